#pragma once
// What every role's entry point shares: the global options, the exit-code contract, and the
// flags several commands take (the broker and queue; a client's credentials).
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "pfo3/config/settings.hpp"
#include "pfo3/net/client_auth.hpp"

namespace pfo3::app {

/// Exit statuses (SPEC 2); decided here and in main only.
enum exit_code : int {
    exit_ok = 0,
    exit_rejected = 1,     ///< send: some tasks rejected
    exit_usage = 2,        ///< usage or configuration error
    exit_unreachable = 3,  ///< send/status: cannot reach the server
    exit_failure = 4,      ///< a role stopped on an error it could not recover from
};

/// Options that stand before or after the command.
struct global_options {
    std::optional<std::string> config_file;
    std::string log_level = "info";
    std::string log_format = "text";
};

/// The `--amqp` and `--queue` flags of serve and work over the settings: the flag's broker
/// replaces the file's whole list (amqp.urls), not only amqp.url.
void apply_broker_flags(config::settings& s, const std::optional<std::string>& amqp,
                        const std::optional<std::string>& queue);

/// Registers --token-file, --tls, --ca-file, --cert-file, --key-file, --server-name on a client
/// subcommand; net::client_options_of() turns them into connection options.
void add_client_auth_options(CLI::App* cmd, net::client_auth& opts);

}  // namespace pfo3::app
