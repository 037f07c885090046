#pragma once
// `pfo3 dead list|requeue|purge`: the operator's view of `<queue>.dead`, through serve (its
// dead_* ops, scope admin) or with --direct through the broker (when serve is down).
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "common.hpp"
#include "pfo3/config/settings.hpp"
#include "pfo3/serve/dead_letter_report.hpp"

namespace pfo3::app {

/// Flags and arguments of `pfo3 dead` and its three actions.
struct dead_options {
    bool direct = false;                ///< to the broker, not through serve
    std::optional<std::string> server;  ///< HOST:PORT of serve (send.server)
    net::client_auth auth;
    std::optional<std::string> amqp;   ///< --direct: broker URL (amqp.url)
    std::optional<std::string> queue;  ///< --direct: task queue (amqp.queue); the letters are in <queue>.dead
    serve::dead_action act;            ///< the action (set by the parser) and its arguments
};

/// Registers the `dead` subcommand with `list`, `requeue` and `purge`.
CLI::App* setup_dead(CLI::App& root, dead_options& opts);
/// Runs the chosen action; 0 ok, 1 some dead letters could not be requeued (or serve refused
/// the request), 2 usage or configuration, 3 broker or serve unreachable.
int run_dead(config::settings s, const dead_options& opts);

}  // namespace pfo3::app
