#pragma once
// `pfo3 dead list|requeue|purge`: the operator's view of `<queue>.dead`.
#include <CLI/CLI.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Flags and arguments of `pfo3 dead` and its three actions.
struct dead_options {
    std::optional<std::string> amqp;   ///< broker URL (amqp.url)
    std::optional<std::string> queue;  ///< task queue (amqp.queue); the letters are in <queue>.dead
    std::string action;            ///< "list", "requeue" or "purge" (set by the parser)
    std::size_t limit = 100;       ///< list: at most this many (0: all)
    bool json = false;             ///< list: one message body per line
    std::vector<std::string> ids;  ///< requeue: these ids
    bool all = false;              ///< requeue: every dead letter
    bool yes = false;              ///< purge: really
};

/// Registers the `dead` subcommand with `list`, `requeue` and `purge`.
CLI::App* setup_dead(CLI::App& root, dead_options& opts);
/// Runs the chosen action; 0 ok, 1 some dead letters could not be requeued, 2 usage or
/// configuration, 3 broker unreachable.
int run_dead(config::settings s, const dead_options& opts);

}  // namespace pfo3::app
