#pragma once
// Sees results arrive in a local file store, for `pfo3 bench --store file:///DIR`: an inotify
// watch on DIR, read by a private thread that notes the time each `ID.json` is renamed into
// place (the file store renames only after the data is flushed, so this is "stored").
// Thread-safe: take() may be called from any thread while the watch thread runs.
#include <chrono>
#include <string>
#include <thread>

#include "pfo3/core/unique_fd.hpp"
#include "result_watch.hpp"

namespace pfo3::bench {

/// See the file comment. Starts watching in the constructor (before any task is sent).
class store_watch final : public result_watch {
public:
    /// Watches `dir` (which must exist); throws service_error if inotify refuses.
    store_watch(std::string dir, std::chrono::steady_clock::time_point start);
    /// Stops the thread.
    ~store_watch() override;

    /// Whether DIR/ID.json exists.
    bool present(const std::string& id) const override;
    /// The directory watched.
    const std::string& dir() const noexcept { return dir_; }

private:
    void run();

    std::string dir_;
    unique_fd inotify_;
    unique_fd stop_;  // eventfd that wakes the thread to stop
    std::thread thread_;
};

}  // namespace pfo3::bench
