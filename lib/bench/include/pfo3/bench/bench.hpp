#pragma once
// The benchmark behind `pfo3 bench`: puts a load on a pfo3 deployment, waits for its results,
// optionally measures the broker alone on the same machine, and reports throughput, latency
// percentiles, errors, CPU and memory (docs/benchmarks.md explains every figure).
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>

#include "pfo3/net/tls.hpp"
#include <vector>

namespace pfo3::bench {

/// What to measure; the flags of `pfo3 bench` (docs/benchmarks.md) map one to one.
struct options {
    std::string server;                  ///< HOST:PORT of pfo3 serve
    std::string token;                   ///< sent as {"op":"auth"} first on every connection; empty: none
    net::client_tls_options tls;         ///< TLS to serve (load and status polling); off unless enabled
    std::size_t tasks = 10000;           ///< N
    std::size_t connections = 4;         ///< C
    std::size_t window = 64;             ///< W, per connection
    // 54 bytes of payload make pfo3's AMQP message body 180 bytes, the size issue 5's
    // targets are stated for.
    std::size_t payload_bytes = 54;
    std::optional<std::string> payload_json;  ///< the payload as JSON text instead
    std::string type = "echo";
    std::optional<double> rate;          ///< open loop: tasks/s over all connections
    std::optional<std::string> store;    ///< file:///DIR or sqlite:///FILE: watch results arrive there
    bool no_results = false;             ///< do not wait for results at all
    double results_timeout_s = 120;
    std::optional<int> serve_pid;
    std::vector<int> worker_pids;
    std::vector<std::string> cpu_pids;   ///< NAME=PID of other local processes (broker, database)
    std::optional<std::string> json_file;
    std::string label;
    bool broker_ceiling = false;
    bool broker_only = false;            ///< measure the broker alone, submit nothing
    std::string amqp_url;                ///< the broker, for broker_ceiling / broker_only
    std::optional<std::size_t> broker_messages;  ///< default N
    std::optional<std::size_t> broker_window;    ///< default C x W
    std::size_t broker_prefetch = 256;
};

/// How a run ended; the command turns it into an exit status.
enum class ending {
    complete,       ///< every task accepted and stored, every requested figure measured
    incomplete,     ///< some task rejected or missing, a failure, or the broker not measured
    unreachable,    ///< no connection to the server could be made; nothing was reported
    output_failed,  ///< the report was printed but the JSON file could not be written
};

struct outcome {
    ending end = ending::complete;
    std::string error;  ///< for unreachable and output_failed: what went wrong, one line
};

/// Runs the benchmark and prints the table on `out` (and the JSON to options::json_file).
/// Throws config_error for impossible options (checked before anything is measured), and
/// service_error if the result directory cannot be watched.
outcome run(const options& opts, std::ostream& out);

}  // namespace pfo3::bench
