#pragma once
// Answers serve's dead_list, dead_requeue and dead_purge ops (decision 0016) on one thread of
// its own: broker round trips never run on serve's I/O thread, and the dead-letter connections
// are owned by that one thread (decision 0002). The connections open on first use and again
// after a failure; a broker that is down answers `unavailable`. The queue of waiting requests
// is bounded; past it the answer is `overloaded` at once.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "pfo3/json/protocol.hpp"
#include "pfo3/net/dispatcher.hpp"
#include "pfo3/queue/dead_letters.hpp"

namespace pfo3::serve {

/// Bounds of one dead_list answer.
struct dead_reply_bounds {
    std::size_t body_bytes = 1024;          ///< each body is cut to this
    std::size_t total_bytes = 256 * 1024;   ///< the letters of one answer together
};

class dead_letter_desk {
public:
    /// Connects to the broker's `attempt`-th URL (called on the desk's thread; it must own what
    /// it uses: a thread left behind at exit may still call it). Throws service_error.
    using opener = std::function<std::unique_ptr<queue::dead_letters>(std::size_t attempt)>;
    dead_letter_desk(opener open, std::size_t max_waiting, dead_reply_bounds bounds = {});
    /// Stops the thread; requests still waiting are dropped (their connections are closed by
    /// then). A thread inside a broker call is waited for at most `exit_wait`, then left behind.
    ~dead_letter_desk();
    dead_letter_desk(const dead_letter_desk&) = delete;
    dead_letter_desk& operator=(const dead_letter_desk&) = delete;

    /// Queues `req` (a dead-letter op, json::is_dead_letter_op); `done` gets the answer line.
    /// Never blocks. Thread-safe.
    void handle(json::request req, net::dispatcher::reply done);

private:
    struct shared;
    std::shared_ptr<shared> shared_;
};

}  // namespace pfo3::serve
