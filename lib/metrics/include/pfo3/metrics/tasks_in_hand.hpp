#pragma once
// The tasks a worker's handlers are running now, with when each started, for the heartbeat
// (issue 14: "the tasks in hand with their age"). A handler thread enters a task before it runs
// and leaves it after; the heartbeat takes a bounded snapshot, oldest first. One short lock per
// entry and exit (uncontended: a handful of handler threads, a heartbeat every few seconds).
// Thread-safe.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pfo3::metrics {

class tasks_in_hand {
public:
    /// More are not listed (a worker runs `concurrency` at once; this bounds a wrong caller).
    static constexpr std::size_t max_held = 100000;

    struct task {
        std::string id, type;
        double age_s = 0;
    };
    struct snapshot {
        std::vector<task> first;  ///< the oldest, at most `limit`
        std::size_t count = 0;    ///< every task in hand
    };

    /// Marks a task in hand while it lives (on the handler's thread).
    class entry {
    public:
        entry(tasks_in_hand& owner, std::string_view id, std::string_view type);
        ~entry();
        entry(const entry&) = delete;
        entry& operator=(const entry&) = delete;

    private:
        tasks_in_hand& owner_;
        std::uint64_t ticket_ = 0;  // 0: not held (over max_held)
    };

    /// The oldest `limit` tasks in hand and how many there are.
    snapshot take(std::size_t limit) const;

private:
    struct held {
        std::string id, type;
        std::chrono::steady_clock::time_point since;
    };
    mutable std::mutex mu_;
    std::map<std::uint64_t, held> held_;  // by ticket: oldest first
    std::uint64_t next_ = 1;
};

}  // namespace pfo3::metrics
