#include "pfo3/handlers/stop_request.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace pfo3::handlers {

stop_request::stop_request(std::chrono::milliseconds grace) : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), grace_(grace) {
    if (!fd_) throw std::system_error(errno, std::system_category(), "eventfd for a handler's stop request");
}

void stop_request::request(const std::string& why) {
    {
        std::lock_guard lk(mu_);
        if (requested_.load(std::memory_order_relaxed)) return;
        why_ = why;
        requested_.store(true, std::memory_order_release);
    }
    const std::uint64_t one = 1;
    // Never fails short of a full counter (2^64 - 2 writes); the flag above is what counts.
    [[maybe_unused]] auto n = ::write(fd_.get(), &one, sizeof one);
}

std::string stop_request::why() const {
    std::lock_guard lk(mu_);
    return why_;
}

}  // namespace pfo3::handlers
