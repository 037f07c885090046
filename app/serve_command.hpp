#pragma once
// `pfo3 serve`: the composition root of the serve role.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Flags of `pfo3 serve`; each overrides the setting of the same name.
struct serve_options {
    std::optional<std::string> listen;
    std::optional<std::string> amqp;
    std::optional<std::string> queue;
    std::optional<std::string> http_listen;
    std::optional<bool> metrics;  ///< --metrics / --no-metrics
};

/// Registers the `serve` subcommand.
CLI::App* setup_serve(CLI::App& root, serve_options& opts);
/// Runs serve until SIGTERM/SIGINT; returns the exit status.
int run_serve(config::settings s, const serve_options& opts);

}  // namespace pfo3::app
