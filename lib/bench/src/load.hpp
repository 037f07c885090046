#pragma once
// The load generator of `pfo3 bench`: C connections to `pfo3 serve`, one thread each, every
// connection pipelining up to W requests. Closed loop (send as fast as responses free the
// window) or open loop (request k is due at a fixed time; its latency counts from that time,
// so a slow server cannot hide its delays by slowing the sender: no coordinated omission).
// run_load() blocks until every connection is done; not thread-safe.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pfo3/net/tls.hpp"

namespace pfo3::bench {

/// What load to put on the server.
struct load_options {
    std::string server;               ///< HOST:PORT of pfo3 serve
    std::string token;                ///< sent as {"op":"auth"} first on each connection; empty: none
    net::client_tls_options tls;      ///< TLS to the server (not enabled: plaintext)
    std::size_t tasks = 10000;        ///< N, over all connections
    std::size_t connections = 4;      ///< C
    std::size_t window = 64;          ///< W: requests in flight per connection
    std::string request;              ///< one request line (without '\n'), sent N times
    std::optional<double> rate;       ///< open loop: tasks per second over all connections
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds stall_timeout{30000};  ///< no response for this long: give up
};

/// One task as the client saw it. Times are nanoseconds since the start of the run (steady
/// clock); `submit_ns` is the scheduled time in open loop, the time it was queued for writing
/// in closed loop.
struct task_timing {
    std::int64_t submit_ns = 0;
    std::int64_t answer_ns = -1;  ///< -1: no response (connection lost)
    bool ok = false;
};

/// What the load produced.
struct load_result {
    std::chrono::steady_clock::time_point start;        ///< time zero of every *_ns
    std::chrono::system_clock::time_point wall_start;   ///< the same instant on the wall clock
    std::vector<task_timing> tasks;     ///< every task, grouped by connection
    std::vector<std::string> ids;       ///< ids of accepted tasks (order of `tasks` with ok)
    std::vector<std::int64_t> id_submit_ns;  ///< submit_ns of each entry of `ids`
    std::map<std::string, std::size_t> errors;  ///< rejections by wire code, plus client-side failures
    std::vector<std::string> failures;  ///< connection-level failures, one text per connection
    std::size_t connections_failed = 0;  ///< connections that could not connect at all
    std::int64_t end_ns = 0;            ///< when the last connection finished
};

/// Runs the load; throws config_error for impossible options. Connection failures do not
/// throw: they are counted in `errors` ("connection_lost") and described in `failures`.
load_result run_load(const load_options& opts);

}  // namespace pfo3::bench
