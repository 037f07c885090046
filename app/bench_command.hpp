#pragma once
// `pfo3 bench`: the flags, and the run of lib/bench with the configured server and broker.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "pfo3/bench/bench.hpp"
#include "common.hpp"
#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Flags of `pfo3 bench`; docs/benchmarks.md explains each figure they produce.
struct bench_options {
    std::optional<std::string> server;  ///< default send.server
    std::optional<std::string> amqp;    ///< default amqp.url
    bench::options run;                 ///< the rest; its server and amqp_url come from the two above
    net::client_auth auth;           ///< run.token comes from here
};

/// Registers the `bench` subcommand.
CLI::App* setup_bench(CLI::App& root, bench_options& opts);
/// Runs the benchmark; returns 0 if every task was accepted and stored (and every requested
/// figure measured), 1 otherwise, 3 if the server cannot be reached, 4 if the --json file
/// could not be written.
int run_bench(config::settings s, const bench_options& opts);

}  // namespace pfo3::app
