#pragma once
// Waiting for the results of the tasks `pfo3 bench` had accepted: through an inotify watch of
// a local file store (precise times), or by polling `status` through serve (times are only
// when the poll saw the result). Runs on the caller's thread.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "load.hpp"
#include "result_watch.hpp"

namespace pfo3::bench {

/// When each accepted task's result was seen.
struct results_seen {
    std::vector<std::int64_t> stored_ns;  ///< per entry of load_result::ids; -1: not seen in time
    bool late_detection = false;          ///< some were found by scanning after an inotify overflow
};

/// Waits until every accepted id's record appeared in the watched store, or `timeout`.
results_seen wait_in_store(result_watch& watch, const load_result& load, std::chrono::milliseconds timeout);

/// Polls `status` for the accepted ids until each is done or dead, or `timeout`.
results_seen wait_by_status(const std::string& server, const std::string& token,
                            const net::client_tls_options& tls, const load_result& load, std::chrono::milliseconds timeout);

}  // namespace pfo3::bench
