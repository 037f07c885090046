#pragma once
// Sees results arrive in a local file store, for `pfo3 bench --store file:///DIR`: an inotify
// watch on DIR, read by a private thread that notes the time each `ID.json` is renamed into
// place (the file store renames only after the data is flushed, so this is "stored").
// Thread-safe: take() may be called from any thread while the watch thread runs.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pfo3/core/unique_fd.hpp"

namespace pfo3::bench {

/// One record that appeared: its id and when (nanoseconds since `start`, steady clock).
struct stored_event {
    std::string id;
    std::int64_t at_ns;
};

/// See the file comment. Starts watching in the constructor (before any task is sent).
class store_watch {
public:
    /// Watches `dir` (which must exist); throws service_error if inotify refuses.
    store_watch(std::string dir, std::chrono::steady_clock::time_point start);
    /// Stops the thread.
    ~store_watch();
    store_watch(const store_watch&) = delete;
    store_watch& operator=(const store_watch&) = delete;

    /// The events seen since the previous call.
    std::vector<stored_event> take();
    /// Moves time zero (the load generator fixes it only once every connection is up); take()
    /// reports every event, earlier ones included, relative to it.
    void set_start(std::chrono::steady_clock::time_point start);
    /// True if the kernel dropped events (IN_Q_OVERFLOW): the caller must look for missing
    /// ids in the directory itself.
    bool overflowed() const;
    /// The directory watched.
    const std::string& dir() const noexcept { return dir_; }

private:
    void run();

    std::string dir_;
    unique_fd inotify_;
    unique_fd stop_;  // eventfd that wakes the thread to stop
    mutable std::mutex mu_;
    std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> events_;  // guarded by mu_
    std::chrono::steady_clock::time_point start_;  // guarded by mu_
    bool overflowed_ = false;  // guarded by mu_
    std::thread thread_;
};

}  // namespace pfo3::bench
