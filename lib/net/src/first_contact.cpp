#include "first_contact.hpp"

#include <sys/socket.h>

#include <boost/asio/write.hpp>

#include "pfo3/core/log.hpp"
#include "pfo3/json/protocol.hpp"
#include "tls_context.hpp"

namespace pfo3::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

const std::string& tls_required_line() {
    static const std::string line = json::encode_rejected(
        request_error::tls_required, "this port requires TLS: connect with TLS (pfo3 send --tls); closing the connection");
    return line;
}

}  // namespace

first_contact::first_contact(tcp::socket socket, std::shared_ptr<ssl::context> context, tls_mode mode,
                             std::chrono::milliseconds timeout, std::function<void(request_error)> refused,
                             done_fn done)
    : socket_(std::make_unique<tcp::socket>(std::move(socket))),
      context_(std::move(context)),
      mode_(mode),
      deadline_(socket_->get_executor()),
      refused_(std::move(refused)),
      done_(std::move(done)) {
    error_code ec;
    const auto ep = socket_->remote_endpoint(ec);
    peer_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
    deadline_.expires_after(timeout);
}

void first_contact::start() {
    asio::post(deadline_.get_executor(), [self = shared_from_this()] {
        self->deadline_.async_wait([self](const error_code& ec) {
            if (!ec) self->on_deadline();
        });
        self->socket_->async_wait(tcp::socket::wait_read, [self](const error_code& e) { self->on_readable(e); });
    });
}

void first_contact::close() {
    asio::post(deadline_.get_executor(), [self = shared_from_this()] {
        if (!self->finished_) self->finish(false);
    });
}

void first_contact::on_deadline() {
    if (finished_) return;
    PFO3_LOG(debug, "no TLS handshake or first request within serve.tls.handshake_timeout_ms; closing", {{"peer", peer_}});
    finish(false);
}

void first_contact::on_readable(const error_code& ec) {
    if (finished_) return;
    if (ec) {
        finish(false);
        return;
    }
    unsigned char first = 0;
    const ssize_t n = ::recv(socket_->native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0) {  // EOF or an error: nobody to serve
        finish(false);
        return;
    }
    if (is_tls_first_byte(first)) {
        start_handshake();
    } else if (mode_ == tls_mode::required) {
        refuse_plaintext();
    } else {
        finish(true);
    }
}

void first_contact::start_handshake() {
    tls_ = std::make_unique<ssl::stream<tcp::socket>>(std::move(*socket_), *context_);
    socket_.reset();
    tls_->async_handshake(ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
        if (self->finished_) return;
        if (ec) {
            PFO3_LOG(info, "TLS handshake failed; closing", {{"peer", self->peer_}, {"error", ec.message()}});
            self->finish(false);
            return;
        }
        self->finish(true);
    });
}

void first_contact::refuse_plaintext() {
    PFO3_LOG(info, "plaintext connection on a TLS-required port: answered tls_required, closing", {{"peer", peer_}});
    if (refused_) refused_(request_error::tls_required);
    asio::async_write(*socket_, asio::buffer(tls_required_line()), [self = shared_from_this()](const error_code&, std::size_t) {
        if (self->finished_) return;
        error_code ignored;
        // Our FIN after the line; the unread request makes close() send RST, which could destroy
        // the line before the client reads it, so the deadline closes the socket instead.
        self->socket_->shutdown(tcp::socket::shutdown_send, ignored);
        self->socket_->async_wait(tcp::socket::wait_read, [self](const error_code&) {
            if (self->finished_) return;
            char sink[4096];
            while (::recv(self->socket_->native_handle(), sink, sizeof sink, MSG_DONTWAIT) > 0) {
            }
            self->finish(false);
        });
    });
}

void first_contact::finish(bool ok) {
    finished_ = true;
    deadline_.cancel();
    auto done = std::move(done_);
    if (!ok) {
        error_code ignored;
        socket().close(ignored);
        if (done) done(std::nullopt);
        return;
    }
    connection_stream s;
    s.context = context_;
    if (tls_) {
        s.peer_subject = peer_subject(tls_->native_handle());
        s.tls = std::move(tls_);
    } else {
        s.plain = std::move(socket_);
    }
    if (done) done(std::move(s));
}

}  // namespace pfo3::net
