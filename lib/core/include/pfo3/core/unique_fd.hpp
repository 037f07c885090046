#pragma once
// Owns one file descriptor; closes it once. Shared by every module that holds raw descriptors.
#include <unistd.h>

#include <utility>

namespace pfo3 {

/// A file descriptor closed on destruction. Move-only.
class unique_fd {
public:
    /// Takes ownership of `fd` (-1: none).
    explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    /// The descriptor, still owned.
    int get() const noexcept { return fd_; }
    /// True if a descriptor is held.
    explicit operator bool() const noexcept { return fd_ >= 0; }
    /// Closes the held descriptor (errors ignored: use close() where they matter).
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    /// Closes and reports close(2)'s result, for writes whose errors may surface only here.
    int close() noexcept {
        int rc = fd_ >= 0 ? ::close(fd_) : 0;
        fd_ = -1;
        return rc;
    }

private:
    int fd_;
};

}  // namespace pfo3
