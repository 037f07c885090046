#include "pfo3/net/server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <atomic>
#include <charconv>
#include <exception>
#include <unordered_map>
#include <vector>
#include <utility>

#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/net/client.hpp"
#include "first_contact.hpp"
#include "session.hpp"
#include "tls_context.hpp"

namespace pfo3::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// Pause after a failed accept (EMFILE, ENOBUFS ...) so the loop does not spin.
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);
constexpr auto overload_log_interval = std::chrono::seconds(1);

tcp::endpoint resolve_listen(asio::io_context& io, const std::string& listen) {
    auto [host, port] = split_host_port(listen, "serve.listen");
    std::uint16_t port_number = 0;
    std::from_chars(port.data(), port.data() + port.size(), port_number);
    error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (!ec) return {addr, port_number};
    tcp::resolver resolver(io);
    auto results = resolver.resolve(host, port, tcp::resolver::passive, ec);
    if (ec || results.empty())
        throw config_error("serve.listen: cannot resolve '" + host + "' in '" + listen +
                           "': " + (ec ? ec.message() : std::string("no address")));
    return results.begin()->endpoint();
}

}  // namespace

struct server::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& io, server_options opts, dispatcher& d)
        : io_(io),
          opts_(std::move(opts)),
          dispatcher_(d),
          strand_(asio::make_strand(io)),
          acceptor_(strand_),
          retry_timer_(strand_),
          policy_(opts_.auth),
          overload_line_(json::encode_rejected(request_error::overloaded, "too many connections")),
          address_overload_line_(json::encode_rejected(request_error::overloaded,
                                                       "too many connections from this address")) {
        const tcp::endpoint ep = resolve_listen(io, opts_.listen);
        auto fail = [&](const char* step, const error_code& ec) {
            throw service_error("listen on " + opts_.listen + ": " + step + ": " + ec.message(),
                                false);
        };
        error_code ec;
        acceptor_.open(ep.protocol(), ec);
        if (ec) fail("open", ec);
        acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
        if (ec) fail("SO_REUSEADDR", ec);
        acceptor_.bind(ep, ec);
        if (ec) fail("bind", ec);
        acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) fail("listen", ec);
        port_ = acceptor_.local_endpoint(ec).port();
        if (ec) fail("local address", ec);
        if (opts_.tls.mode != tls_mode::off) tls_context_ = make_server_context(opts_.tls);
    }

    void do_accept() {
        acceptor_.async_accept(asio::make_strand(io_),
                               [self = shared_from_this()](const error_code& ec, auto socket) {
                                   self->on_accept(ec, tcp::socket(std::move(socket)));
                               });
    }

    void on_accept(const error_code& ec, tcp::socket socket) {
        try {
            if (!acceptor_.is_open()) return;  // shut down while the accept was completing
            if (ec) {
                if (ec == asio::error::operation_aborted) return;
                PFO3_LOG(warn, "accept failed; retrying", {{"listen", opts_.listen}, {"error", ec.message()}});
                retry_timer_.expires_after(accept_retry_delay);
                retry_timer_.async_wait([self = shared_from_this()](const error_code& e) {
                    if (!e && self->acceptor_.is_open()) self->do_accept();
                });
                return;
            }
            std::string address = client_address(socket);
            if (count_.load() >= opts_.max_connections) {
                refuse(std::move(socket), overload_line_, "too many connections", "max_connections",
                       opts_.max_connections);
            } else if (auto at = per_address_.find(address);
                       at != per_address_.end() && at->second >= opts_.max_connections_per_address) {
                refuse(std::move(socket), address_overload_line_, "too many connections from one address",
                       "max_connections_per_address", opts_.max_connections_per_address);
            } else if (tls_context_) {
                first_contact_of(std::move(socket), std::move(address));
            } else {
                connection_stream s;
                s.plain = std::make_unique<tcp::socket>(std::move(socket));
                add_session(std::move(s), std::move(address));
            }
        } catch (const std::exception& e) {
            PFO3_LOG(error, "cannot set up a new connection; it is closed",
                     {{"listen", opts_.listen}, {"error", e.what()}});
        }
        do_accept();
    }

    // The peer's IP address (no port): what the per-address cap counts.
    static std::string client_address(const tcp::socket& socket) {
        error_code ec;
        auto ep = socket.remote_endpoint(ec);
        return ec ? std::string("?") : ep.address().to_string();
    }

    // A TLS-capable port: the connection counts against the limits while its first byte and
    // handshake are awaited, then becomes a session (or is closed).
    void first_contact_of(tcp::socket socket, std::string address) {
        ++count_;
        ++per_address_[address];
        ++pending_;
        // Built first so the callback can name it; the callback runs only after start().
        auto contact = std::make_shared<first_contact>(
            std::move(socket), tls_context_, opts_.tls.mode, opts_.tls.handshake_timeout, opts_.observe.refused,
            [self = shared_from_this(), address](std::optional<connection_stream> s) mutable {
                // Moved into a shared_ptr: the handler posted below must be copyable.
                auto stream = std::make_shared<std::optional<connection_stream>>(std::move(s));
                asio::post(self->strand_, [self, address = std::move(address), stream] {
                    --self->pending_;
                    self->prune_contacts();
                    self->forget(address);
                    if (*stream && !self->draining_) self->add_session(std::move(**stream), address);
                    self->check_drained();
                });
            });
        contacts_.push_back(contact);
        contact->start();
    }

    // Forgets handshakes that have ended (their weak pointers expired).
    void prune_contacts() {
        std::erase_if(contacts_, [](const std::weak_ptr<first_contact>& w) { return w.expired(); });
    }

    // Connections still in their first byte or handshake have sent no request: at shutdown
    // they are closed at once rather than held until their handshake deadline.
    void close_contacts() {
        for (auto& w : contacts_)
            if (auto c = w.lock()) c->close();
    }

    void forget(const std::string& address) {
        if (auto n = per_address_.find(address); n != per_address_.end() && --n->second == 0) per_address_.erase(n);
        --count_;
    }

    void add_session(connection_stream stream, std::string address) {
        session_limits limits;
        limits.max_request_bytes = opts_.max_request_bytes;
        limits.max_pipelined = opts_.max_pipelined;
        limits.max_unsent_reply_bytes = opts_.max_unsent_reply_bytes;
        limits.max_status_in_flight = opts_.max_status_in_flight;
        limits.idle_timeout = opts_.idle_timeout;
        limits.request_timeout = opts_.request_timeout;
        limits.write_timeout = opts_.write_timeout;
        limits.request = opts_.request;
        limits.auth = policy_;
        limits.observe = opts_.observe;
        auto s = std::make_shared<session>(
            std::move(stream), dispatcher_, limits,
            [self = shared_from_this()](session* gone) {
                asio::post(self->strand_, [self, gone] { self->remove(gone); });
            });
        ++per_address_[address];
        sessions_.emplace(s.get(), registered{s, std::move(address)});
        ++count_;
        s->start();
    }

    // Answers one `overloaded` line and closes; logged at most once a second, with a count.
    void refuse(tcp::socket socket, const std::string& line, const char* why, const char* limit_key,
                std::size_t limit) {
        if (opts_.observe.refused) opts_.observe.refused(request_error::overloaded);
        ++overloaded_since_log_;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_overload_log_ >= overload_log_interval) {
            PFO3_LOG(warn, "connections refused: answered overloaded and closed",
                     {{"reason", why},
                      {limit_key, std::to_string(limit)},
                      {"refused_since_last_log", std::to_string(overloaded_since_log_)}});
            last_overload_log_ = now;
            overloaded_since_log_ = 0;
        }
        auto sock = std::make_shared<tcp::socket>(std::move(socket));
        asio::async_write(*sock, asio::buffer(line),
                          [self = shared_from_this(), sock](const error_code&, std::size_t) {
                              error_code ignored;
                              sock->shutdown(tcp::socket::shutdown_send, ignored);
                              sock->close(ignored);
                          });
    }

    void remove(session* gone) {
        auto at = sessions_.find(gone);
        if (at != sessions_.end()) {
            forget(at->second.address);
            sessions_.erase(at);
        }
        check_drained();
    }

    void check_drained() {
        if (!draining_ || !sessions_.empty() || pending_ > 0 || !on_drained_) return;
        auto cb = std::move(on_drained_);
        on_drained_ = nullptr;
        try {
            cb();
        } catch (const std::exception& e) {
            PFO3_LOG(error, "shutdown callback failed", {{"error", e.what()}});
        }
    }

    void stop_accepting() {
        error_code ignored;
        acceptor_.close(ignored);
        retry_timer_.cancel();
    }

    template <class F>
    void for_each_session(F&& f) {
        for (auto& [raw, r] : sessions_)
            if (auto s = r.weak.lock()) f(*s);
    }

    // Weak: a session lives as long as its own handlers; it tells us when it closes.
    struct registered {
        std::weak_ptr<session> weak;
        std::string address;
    };

    asio::io_context& io_;
    const server_options opts_;
    dispatcher& dispatcher_;
    asio::strand<asio::io_context::executor_type> strand_;  // guards everything below
    tcp::acceptor acceptor_;
    asio::steady_timer retry_timer_;
    std::shared_ptr<const auth::policy> policy_;  // for new connections; replaced on reload
    std::shared_ptr<asio::ssl::context> tls_context_;  // null: TLS off; replaced on reload
    std::size_t pending_ = 0;  // connections awaiting their first byte or TLS handshake
    std::vector<std::weak_ptr<first_contact>> contacts_;  // those connections, to close at shutdown
    const std::string overload_line_;
    const std::string address_overload_line_;
    std::uint16_t port_ = 0;  // written in the constructor only
    std::atomic<std::size_t> count_{0};
    std::unordered_map<session*, registered> sessions_;
    std::unordered_map<std::string, std::size_t> per_address_;  // open sessions by peer address
    bool accepting_ = false;
    bool draining_ = false;
    std::function<void()> on_drained_;
    std::chrono::steady_clock::time_point last_overload_log_{};
    std::size_t overloaded_since_log_ = 0;
};

server::server(asio::io_context& io, server_options opts, dispatcher& d)
    : impl_(std::make_shared<impl>(io, std::move(opts), d)) {}

server::~server() {
    // Handlers may still hold the impl; make sure nothing keeps listening or serving.
    asio::post(impl_->strand_, [i = impl_] {
        i->stop_accepting();
        i->close_contacts();
        i->for_each_session([](session& s) { s.close(); });
    });
}

void server::start() {
    asio::post(impl_->strand_, [i = impl_] {
        if (i->accepting_ || i->draining_ || !i->acceptor_.is_open()) return;
        i->accepting_ = true;
        PFO3_LOG(info, "listening", {{"listen", i->opts_.listen}, {"port", std::to_string(i->port_)}});
        i->do_accept();
    });
}

std::uint16_t server::port() const { return impl_->port_; }

void server::shutdown(std::function<void()> on_drained) {
    asio::post(impl_->strand_, [i = impl_, cb = std::move(on_drained)]() mutable {
        i->draining_ = true;
        i->on_drained_ = std::move(cb);
        i->stop_accepting();
        i->close_contacts();
        i->for_each_session([](session& s) { s.stop_input(); });
        i->check_drained();
    });
}

void server::close_all() {
    asio::post(impl_->strand_, [i = impl_] {
        i->stop_accepting();
        i->close_contacts();
        i->for_each_session([](session& s) { s.close(); });
    });
}

void server::set_policy(std::shared_ptr<const auth::policy> p) {
    asio::post(impl_->strand_, [i = impl_, p = std::move(p)]() mutable { i->policy_ = std::move(p); });
}

void server::reload_tls() {
    asio::post(impl_->strand_, [i = impl_] {
        if (!i->tls_context_) return;
        try {
            i->tls_context_ = make_server_context(i->opts_.tls);
            PFO3_LOG(info, "TLS certificate, key and client CAs reloaded for new connections",
                     {{"cert_file", i->opts_.tls.cert_file}});
        } catch (const std::exception& e) {
            PFO3_LOG(error, "TLS reload failed; new connections keep the previous certificate and key",
                     {{"error", e.what()}});
        }
    });
}

std::size_t server::connection_count() const { return impl_->count_.load(); }

}  // namespace pfo3::net
