#pragma once
// The client-facing TCP server (SPEC 4): accepts connections, frames and decodes requests,
// hands them to a dispatcher, writes responses in order. Runs on the io_context it is given;
// each connection is served on that context's strand.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "pfo3/auth/policy.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/net/dispatcher.hpp"
#include "pfo3/net/tls.hpp"

namespace pfo3::net {

/// What the server tells the metrics (any callback may be empty). Called on the server's
/// strand or a connection's: they must be quick and must not throw.
struct observers {
    /// A request refused before it reached the dispatcher (auth, bad_json, bad_request,
    /// line_too_long, tls_required, overloaded by the connection caps), by its code.
    std::function<void(request_error)> refused;
    /// A submit's reply was written whole: the time since its request was read.
    std::function<void(std::chrono::steady_clock::duration)> submit_answered;
};

struct server_options {
    std::string listen = "127.0.0.1:5000";  ///< HOST:PORT; port 0 picks a free port
    std::size_t max_request_bytes = 1048576;
    std::size_t max_connections = 10000;
    std::size_t max_connections_per_address = 256;  ///< beyond: `overloaded`, closed
    std::chrono::seconds idle_timeout{300};
    std::size_t max_pipelined = 1024;  ///< unanswered requests before reading pauses
    /// Reply bytes a connection's peer has not taken yet; past them reading pauses.
    std::size_t max_unsent_reply_bytes = 1048576;
    /// Status reads one connection may await at once: a status reply is as large as the stored
    /// result, so these (with the byte budget) bound the reply memory of a connection.
    std::size_t max_status_in_flight = 16;
    /// A request must arrive whole this long after its first byte (else bad_request, closed).
    std::chrono::seconds request_timeout{30};
    /// Replies waiting this long with none of their bytes taken: the connection is closed.
    std::chrono::seconds write_timeout{30};
    json::request_limits request;  ///< what a request may ask for (max_attempts)
    /// Who may do what ([auth]); null: every request is allowed (mode none).
    std::shared_ptr<const auth::policy> auth;
    server_tls_options tls;  ///< TLS on the same port (first byte 0x16); off by default
    observers observe;       ///< the metrics' view of what the server answers (issue 14)
};

/// See the file comment. start(), shutdown() and close_all() only post work to the server's
/// strand, so they may be called from any thread; construct and destroy it outside run()
/// (destroy it, and the dispatcher, only after run() has returned).
class server {
public:
    /// Binds and listens at once (throws config_error / service_error naming the address).
    server(boost::asio::io_context& io, server_options opts, dispatcher& d);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Starts accepting.
    void start();
    /// The port actually bound (useful with port 0).
    std::uint16_t port() const;
    /// Stops accepting and stops reading new requests; connections close once their pending
    /// responses are written. `on_drained` runs (on the io thread) when no connection is left.
    void shutdown(std::function<void()> on_drained);
    /// Closes every connection at once (after the grace period).
    void close_all();
    /// New connections from now on use `p` (a reload); open ones keep theirs.
    void set_policy(std::shared_ptr<const auth::policy> p);
    /// Reads the TLS certificate, key and client CA files again for new connections; a file that
    /// fails keeps the material in use, and the log says why. Returns at once (works on the
    /// server's strand).
    void reload_tls();
    /// Open connections now.
    std::size_t connection_count() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace pfo3::net
