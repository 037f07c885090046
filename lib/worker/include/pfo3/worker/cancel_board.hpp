#pragma once
// What one worker knows of cancels (issue 16, decision 0015): the ids with a pending cancel,
// heard from the cancel event or listed from the store, and the tasks its handler threads run
// right now, so that a cancel stops a running one. Bounded: past max_pending the oldest
// pending ids are forgotten first. Thread-safe; pending() costs one relaxed atomic load while
// nothing is pending (the hot path of every delivery).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pfo3/handlers/stop_request.hpp"

namespace pfo3::worker {

class cancel_board {
public:
    /// `grace`: how long a running handler's process group has after SIGTERM.
    cancel_board(std::size_t max_pending, std::chrono::milliseconds grace);
    cancel_board(const cancel_board&) = delete;
    cancel_board& operator=(const cancel_board&) = delete;

    /// A cancel of `id` (its text, "cancel requested: …"): remembered as pending, and every
    /// run of `id` in hand is asked to stop.
    void cancel(const std::string& id, const std::string& why);
    /// True if `id` has a pending cancel: the caller reads its record before running it.
    bool pending(std::string_view id) const;
    /// Drops the pending cancel of `id` (settled, or its record says it is no longer pending).
    void forget(std::string_view id);
    /// Pending ids (for tests and the log).
    std::size_t pending_count() const noexcept { return count_.load(std::memory_order_relaxed); }

    /// A run of a task, registered while a handler thread runs it: stop() is what a cancel
    /// of its id requests. Ends the registration when destroyed (and forgets a pending cancel
    /// that stopped it, or came too late: the record says what happened).
    class run_ticket {
    public:
        run_ticket(cancel_board& board, std::string id);
        ~run_ticket();
        run_ticket(const run_ticket&) = delete;
        run_ticket& operator=(const run_ticket&) = delete;
        const handlers::stop_request* stop() const noexcept { return stop_.get(); }

    private:
        cancel_board& board_;
        std::string id_;
        std::shared_ptr<handlers::stop_request> stop_;
    };

private:
    struct entry {
        std::uint64_t seq;  // its key in order_
        std::string why;
    };
    void forget_locked(std::string_view id);

    const std::size_t max_pending_;
    const std::chrono::milliseconds grace_;
    mutable std::mutex mu_;
    std::atomic<std::size_t> count_{0};  // pending_.size(), read without the lock
    std::unordered_map<std::string, entry> pending_;
    std::map<std::uint64_t, std::string> order_;  // by age, for forgetting the oldest
    std::uint64_t next_seq_ = 0;
    std::unordered_multimap<std::string, std::shared_ptr<handlers::stop_request>> running_;
};

}  // namespace pfo3::worker
