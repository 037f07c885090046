#pragma once
// The first moments of a connection on a TLS-capable port: its first byte says TLS (0x16) or
// plaintext; TLS is then handshaken; plaintext on a TLS-required port gets one `tls_required`
// line and is closed. All of it within the handshake deadline, so connections that say nothing
// or stall mid-handshake cost a descriptor for that long at most. Lives on the connection's
// strand; kept alive by its own handlers.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "pfo3/net/tls.hpp"
#include "session.hpp"

namespace pfo3::net {

/// See the file comment.
class first_contact : public std::enable_shared_from_this<first_contact> {
public:
    /// Called once, on the strand: the stream to serve, or nullopt when the connection was closed
    /// (deadline, EOF, failed handshake, plaintext refused).
    using done_fn = std::function<void(std::optional<connection_stream>)>;

    first_contact(boost::asio::ip::tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> context,
                  tls_mode mode, std::chrono::milliseconds timeout, std::function<void(request_error)> refused,
                  done_fn done);
    first_contact(const first_contact&) = delete;
    first_contact& operator=(const first_contact&) = delete;

    /// Starts waiting for the first byte; call once.
    void start();
    /// Closes the connection now (server shutdown); `done` gets nullopt. Any thread.
    void close();

private:
    void on_readable(const boost::system::error_code& ec);
    void start_handshake();
    void refuse_plaintext();
    void finish(bool ok);
    void on_deadline();

    std::unique_ptr<boost::asio::ip::tcp::socket> socket_;  // until it moves into tls_
    std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
    std::shared_ptr<boost::asio::ssl::context> context_;
    tls_mode mode_;
    boost::asio::steady_timer deadline_;
    std::function<void(request_error)> refused_;  // counts a tls_required answer; may be empty
    done_fn done_;
    std::string peer_;
    bool finished_ = false;

    boost::asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : *socket_; }
};

}  // namespace pfo3::net
