#pragma once
// TLS over one connected, non-blocking socket of the load generator (OpenSSL directly: the load
// loop polls raw descriptors). Verifies the server like `pfo3 send --tls`. One per connection
// thread; not thread-safe.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <sys/types.h>

#include "pfo3/net/tls.hpp"

namespace pfo3::bench {

/// See the file comment.
class tls_channel {
public:
    /// Handshakes over `fd` (not owned) within `timeout`; `host` is checked unless
    /// o.server_name is set. Throws service_error naming what failed.
    tls_channel(int fd, const net::client_tls_options& o, const std::string& host, std::chrono::milliseconds timeout);
    ~tls_channel();
    tls_channel(const tls_channel&) = delete;
    tls_channel& operator=(const tls_channel&) = delete;

    /// Like ::send: bytes taken, or -1 with errno EAGAIN (would block) or EIO (`error()` says why).
    ssize_t send(const char* data, std::size_t size);
    /// Like ::recv: bytes, 0 at the end of the stream, or -1 as for send().
    ssize_t recv(char* data, std::size_t size);
    /// The reason of the last EIO.
    const std::string& error() const { return error_; }

private:
    ssize_t result(int ret);
    struct handles;
    std::unique_ptr<handles> h_;
    std::string error_;
};

}  // namespace pfo3::bench
