#pragma once
// A blocking client for the serve protocol, used by `pfo3 send` and `pfo3 status`.
// One per thread; not thread-safe.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pfo3/net/tls.hpp"

namespace pfo3::net {

/// How a client connects and who it says it is.
struct client_options {
    std::chrono::milliseconds timeout{5000};  ///< connecting, and the auth answer
    /// Sent as {"op":"auth"} right after connecting; empty: none. Never logged or printed.
    std::string token;
    client_tls_options tls;  ///< TLS to the server; off by default
};

/// A connection to `pfo3 serve`. Throws service_error (retryable) when it cannot connect or
/// the connection breaks, with the address in the message.
class client {
public:
    /// Connects to HOST:PORT within `timeout`.
    client(std::string_view host_port, std::chrono::milliseconds timeout);
    /// Connects, does the TLS handshake if `o.tls.enabled` (service_error, not retryable, naming
    /// a certificate that fails verification or holds another name), then authenticates with
    /// `o.token` if one is given: a refused token throws
    /// config_error naming the server and the refusal (the client's settings are wrong).
    client(std::string_view host_port, const client_options& o);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Writes bytes (a request, with or without '\n').
    void write(std::string_view bytes);
    /// Half-closes the connection: no more requests follow; the server answers what it has
    /// received, then closes.
    void shutdown_write();
    /// Reads one response line without its '\n'; nullopt if the server closed the connection.
    std::optional<std::string> read_line();
    /// Like read_line(), but throws service_error (retryable) if no whole line arrives within
    /// `timeout`; the connection stays usable.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Splits "HOST:PORT" ("[::1]:5000" for IPv6); throws config_error naming `what`.
std::pair<std::string, std::string> split_host_port(std::string_view host_port, std::string_view what);

}  // namespace pfo3::net
