#pragma once
// The tasks a worker's handlers are running now, with when each started, for the heartbeat
// (issue 14: "the tasks in hand with their age"). A handler thread holds an `entry` on its stack
// while the handler runs; entries are linked in start order, so the heartbeat's bounded
// snapshot is the oldest first. Entering and leaving take one short lock and allocate nothing
// (the entry views the task's id and type): about 200 instructions a task. Thread-safe.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pfo3::metrics {

class tasks_in_hand {
public:
    struct task {
        std::string id, type;
        double age_s = 0;
    };
    struct snapshot {
        std::vector<task> first;  ///< the oldest, at most `limit`
        std::size_t count = 0;    ///< every task in hand
    };

    /// Marks a task in hand while it lives (on the handler's thread). `id` and `type` must
    /// outlive it.
    class entry {
    public:
        entry(tasks_in_hand& owner, std::string_view id, std::string_view type);
        ~entry();
        entry(const entry&) = delete;
        entry& operator=(const entry&) = delete;

    private:
        friend class tasks_in_hand;
        tasks_in_hand& owner_;
        std::string_view id_, type_;
        std::chrono::steady_clock::time_point since_;
        entry* prev_ = nullptr;
        entry* next_ = nullptr;
    };

    tasks_in_hand() = default;
    tasks_in_hand(const tasks_in_hand&) = delete;
    tasks_in_hand& operator=(const tasks_in_hand&) = delete;

    /// The oldest `limit` tasks in hand and how many there are.
    snapshot take(std::size_t limit) const;

private:
    mutable std::mutex mu_;
    entry* oldest_ = nullptr;  // guarded by mu_, as every entry's links
    entry* newest_ = nullptr;
    std::size_t count_ = 0;
};

}  // namespace pfo3::metrics
