#pragma once
// `pfo3 work`: the composition root of the worker role.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Flags of `pfo3 work`; each overrides the setting of the same name.
struct work_options {
    std::optional<int> prefetch;
    std::optional<int> concurrency;
    std::optional<std::string> amqp;
    std::optional<std::string> queue;
    std::optional<std::string> store;
    std::optional<std::string> http_listen;
    std::optional<bool> metrics;  ///< --metrics / --no-metrics
};

/// Registers the `work` subcommand.
CLI::App* setup_work(CLI::App& root, work_options& opts);
/// Runs a worker until SIGTERM/SIGINT; returns the exit status.
int run_work(config::settings s, const work_options& opts);

}  // namespace pfo3::app
