#pragma once
// What a publisher or consumer tells about its broker connection, for /metrics and /readyz:
// plain atomics the connection's owner thread updates and any thread reads, and a note of
// the node in use and why the last connection ended (set on reconnects only, under a lock).
// Optional: the owner passes a pointer in the options (nullptr: nothing is counted).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace pfo3::queue {

/// The broker node a connection uses and why the last one ended (see connection_stats).
struct broker_note {
    std::string url;        ///< masked URL of the connection in use (or last used); empty: none yet
    std::size_t node = 0;   ///< its place in the configured list, 1-based; 0: none yet
    std::size_t nodes = 0;  ///< how many URLs the list has
    std::string last_loss;       ///< the error that ended the last connection lost; empty: none
    std::string last_loss_kind;  ///< its kind (loss_kind()), a bounded metrics label
    std::int64_t last_loss_at = 0;  ///< when, in seconds since the epoch
};

/// The kind of a lost connection's error text, for metrics labels: heartbeat_timeout,
/// closed_by_broker, channel_closed, nacks_only (a channel that only nacks, given up),
/// consume_watchdog, consumer_cancelled, socket_error or other.
const char* loss_kind(std::string_view error) noexcept;

struct connection_stats {
    std::atomic<bool> up{false};                       ///< connected and set up
    std::atomic<std::uint64_t> connects{0};            ///< successful connections (the first included)
    std::atomic<std::uint64_t> lost{0};                ///< connections lost while in use
    std::atomic<std::uint64_t> failed_attempts{0};     ///< connection attempts that failed
    std::atomic<std::uint64_t> confirm_timeouts{0};    ///< publishes with no confirm in time (publisher)

    /// Any thread: a copy of the note.
    broker_note note() const {
        std::lock_guard lk(mu_);
        return note_;
    }
    /// The owner thread: connected to `url` (masked), place `node` (1-based) of `nodes`.
    void connected_to(std::string url, std::size_t node, std::size_t nodes) {
        std::lock_guard lk(mu_);
        note_.url = std::move(url);
        note_.node = node;
        note_.nodes = nodes;
    }
    /// The owner thread: the connection in use was lost with `error` at `at` (epoch seconds).
    void lost_with(std::string error, std::int64_t at) {
        std::lock_guard lk(mu_);
        note_.last_loss_kind = loss_kind(error);
        note_.last_loss = std::move(error);
        note_.last_loss_at = at;
    }

private:
    mutable std::mutex mu_;
    broker_note note_;
};

}  // namespace pfo3::queue
