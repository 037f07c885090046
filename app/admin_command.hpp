#pragma once
// `pfo3 admin queues`: the queues pfo3 declares, as the broker has them (type, arguments,
// leader, members), compared with what this configuration declares.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Flags of `pfo3 admin`.
struct admin_options {
    std::vector<std::string> management;  ///< management API URLs; empty: one per broker URL
    std::string amqp;                     ///< --amqp: the broker whose user and vhost to use
    std::string queue;                    ///< --queue: another task queue than amqp.queue
};

/// Registers the `admin` subcommand and its `queues` subcommand.
CLI::App* setup_admin(CLI::App& root, admin_options& opts);
/// Prints the table; 0 when every queue is as this configuration declares it, 1 when one
/// differs or is missing, 3 when no management API answered, 2 for a configuration error.
int run_admin(config::settings s, const admin_options& opts);

}  // namespace pfo3::app
