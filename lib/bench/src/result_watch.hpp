#pragma once
// What `pfo3 bench --store URI` watches results arrive with: a private thread of the concrete
// watch (inotify on a file store, polling a SQLite store) notes when it saw each record; the
// waiting side takes those events. Thread-safe: take() may be called from any thread.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pfo3::bench {

/// One record that appeared: its id and when (nanoseconds since `start`, steady clock).
struct stored_event {
    std::string id;
    std::int64_t at_ns;
};

class result_watch {
public:
    using time_point = std::chrono::steady_clock::time_point;
    virtual ~result_watch() = default;
    result_watch(const result_watch&) = delete;
    result_watch& operator=(const result_watch&) = delete;

    /// The events seen since the previous call.
    std::vector<stored_event> take();
    /// Moves time zero (the load generator fixes it only once every connection is up); take()
    /// reports every event, earlier ones included, relative to it.
    void set_start(time_point start);
    /// True if events were lost (the kernel's inotify queue overflowed): the caller must look
    /// for missing records with present().
    bool overflowed() const;
    /// Whether the record of `id` is in the store now.
    virtual bool present(const std::string& id) const = 0;

protected:
    explicit result_watch(time_point start) : start_(start) {}
    /// Hands the watch thread's events over (and empties `batch`).
    void add(std::vector<std::pair<std::string, time_point>>& batch);
    void mark_overflowed();

private:
    mutable std::mutex mu_;
    std::vector<std::pair<std::string, time_point>> events_;  // guarded by mu_
    time_point start_;                                         // guarded by mu_
    bool overflowed_ = false;                                  // guarded by mu_
};

}  // namespace pfo3::bench
