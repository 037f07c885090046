#pragma once
// `pfo3 bench`: measures a pfo3 deployment (and, with --broker-ceiling, the broker alone on
// the same machine) and reports throughput, latency percentiles, errors and memory.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Flags of `pfo3 bench`; docs/benchmarks.md explains each figure they produce.
struct bench_options {
    std::optional<std::string> server;   ///< default send.server
    std::size_t tasks = 10000;           ///< N
    std::size_t connections = 4;         ///< C
    std::size_t window = 64;             ///< W, per connection
    // 54 bytes of payload make pfo3's AMQP message body 180 bytes, the size issue 5's
    // targets are stated for.
    std::size_t payload_bytes = 54;
    std::optional<std::string> payload_json;  ///< the payload as JSON text instead
    std::string type = "echo";
    std::optional<double> rate;          ///< open loop: tasks/s over all connections
    std::optional<std::string> store;    ///< file:///DIR: watch results arrive there
    bool no_results = false;             ///< do not wait for results at all
    double results_timeout_s = 120;
    std::optional<int> serve_pid;
    std::vector<int> worker_pids;
    std::vector<std::string> cpu_pids;   ///< NAME=PID of other local processes (broker, database)
    std::optional<std::string> json_file;
    std::string label;
    bool broker_ceiling = false;
    bool broker_only = false;            ///< measure the broker alone, submit nothing
    std::optional<std::string> amqp;     ///< default amqp.url
    std::optional<std::size_t> broker_messages;  ///< default N
    std::optional<std::size_t> broker_window;    ///< default C x W
    std::size_t broker_prefetch = 256;
};

/// Registers the `bench` subcommand.
CLI::App* setup_bench(CLI::App& root, bench_options& opts);
/// Runs the benchmark; returns 0 if every task was accepted and stored (and every requested
/// figure measured), 1 otherwise, 3 if the server cannot be reached.
int run_bench(config::settings s, const bench_options& opts);

}  // namespace pfo3::app
