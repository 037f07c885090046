#pragma once
// A request to stop one running handler (issue 16: a cancel of a running task). The worker
// thread that receives the cancel calls request(); the handler thread's external runner waits
// on fd() alongside the handler's pipes, so it reacts at once, without polling. Thread-safe.
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "pfo3/core/unique_fd.hpp"

namespace pfo3::handlers {

/// See the file comment. Neither copyable nor movable: threads hold it by reference.
class stop_request {
public:
    /// `grace`: how long a handler's process group has after SIGTERM before SIGKILL. Throws
    /// std::system_error if no eventfd can be made.
    explicit stop_request(std::chrono::milliseconds grace);
    stop_request(const stop_request&) = delete;
    stop_request& operator=(const stop_request&) = delete;

    /// Asks the handler to stop; `why` becomes the record's error. Only the first call counts.
    void request(const std::string& why);
    /// True once request() was called.
    bool requested() const noexcept { return requested_.load(std::memory_order_acquire); }
    /// The first request's text (empty before one).
    std::string why() const;
    /// Readable once requested (an eventfd), for poll().
    int fd() const noexcept { return fd_.get(); }
    std::chrono::milliseconds grace() const noexcept { return grace_; }

private:
    unique_fd fd_;
    std::chrono::milliseconds grace_;
    std::atomic<bool> requested_{false};
    mutable std::mutex mu_;
    std::string why_;  // guarded by mu_
};

}  // namespace pfo3::handlers
