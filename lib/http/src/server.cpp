#include "pfo3/http/server.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <optional>

#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/net/client.hpp"

namespace pfo3::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::pair<std::uint16_t, std::uint16_t> parse_port_range(const std::string& port, const std::string& what) {
    auto number = [&](std::string_view s) {
        unsigned v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > 65535)
            throw config_error(what + ": '" + port + "' is not a port (0-65535) or a range FIRST-LAST");
        return static_cast<std::uint16_t>(v);
    };
    const auto dash = port.find('-');
    if (dash == std::string::npos) {
        auto p = number(port);
        return {p, p};
    }
    auto first = number(std::string_view(port).substr(0, dash)), last = number(std::string_view(port).substr(dash + 1));
    if (first == 0 || last < first) throw config_error(what + ": port range '" + port + "' must be FIRST-LAST, 0 < FIRST <= LAST");
    return {first, last};
}

namespace {

// One connection: read a request, answer it, keep alive or close. Owned by its own handlers.
class session : public std::enable_shared_from_this<session> {
public:
    // `owner` keeps routes, opts and count alive as long as the session.
    session(tcp::socket s, std::shared_ptr<const void> owner, const std::map<std::string, handler>& routes,
            const server_options& opts, std::atomic<std::size_t>& count)
        : stream_(std::move(s)), owner_(std::move(owner)), routes_(routes), opts_(opts), count_(count) {}
    ~session() { count_.fetch_sub(1); }

    void start() { do_read(opts_.idle_timeout); }
    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream_.close();
    }

private:
    void do_read(std::chrono::seconds wait) {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(opts_.max_request_bytes));
        parser_->body_limit(opts_.max_request_bytes);
        stream_.expires_after(wait);
        bhttp::async_read(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted)
            return close();
        if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit)
            return reply(make(413, "request too large\n"), false);
        if (ec) return reply(make(400, "bad request\n"), false);
        const auto& req = parser_->get();
        const bool head = req.method() == bhttp::verb::head, post = req.method() == bhttp::verb::post;
        if (req.method() != bhttp::verb::get && !head && !post) {
            auto res = make(405, "only GET, HEAD and POST\n");
            res.set(bhttp::field::allow, "GET, HEAD, POST");
            return reply(std::move(res), false);
        }
        std::string_view target(req.target().data(), req.target().size());
        const auto q = target.find('?');
        const handler* h = find(target.substr(0, q));
        if (!h) return reply(make(404, "not found\n"), req.keep_alive(), head);
        if (post && !h->takes_post()) {
            auto res = make(405, "only GET and HEAD here\n");
            res.set(bhttp::field::allow, "GET, HEAD");
            return reply(std::move(res), false);
        }
        auto in = std::make_shared<request>();
        in->method = std::string(req.method_string());
        in->path = std::string(target.substr(0, q));
        if (q != std::string_view::npos) in->query = std::string(target.substr(q + 1));
        beast::error_code pec;
        const auto peer = stream_.socket().remote_endpoint(pec);
        if (!pec) in->peer = peer.address().to_string();
        auto field = [&req](auto f) { return std::string(req[f]); };
        in->authorization = field(bhttp::field::authorization);
        in->origin = field(bhttp::field::origin);
        in->host = field(bhttp::field::host);
        in->content_type = field(bhttp::field::content_type);
        in->csrf_token = std::string(req["X-CSRF-Token"]);
        in->body = req.body();
        const bool keep = req.keep_alive();
        // The answer may come from another thread, or never before the connection closes: it
        // hops onto the loop and is taken once.
        auto self = shared_from_this();
        auto answered = std::make_shared<std::atomic<bool>>(false);
        respond done = [self, answered, keep, head](response r) {
            if (answered->exchange(true)) return;
            asio::post(self->stream_.get_executor(), [self, keep, head, r = std::move(r)]() mutable { self->answer(std::move(r), keep, head); });
        };
        try {
            (*h)(*in, done);
        } catch (const std::exception& e) {
            PFO3_LOG(error, "http handler failed", {{"path", in->path}, {"error", e.what()}});
            done(response{500, "text/plain; charset=utf-8", "internal error\n"});
        }
    }

    // A route's handler: the exact path, else the longest route ending in '/' that starts it
    // ("/" itself is only the root).
    const handler* find(std::string_view path) const {
        if (auto it = routes_.find(std::string(path)); it != routes_.end()) return &it->second;
        const handler* best = nullptr;
        std::size_t best_len = 0;
        for (const auto& [p, h] : routes_)
            if (p.size() > 1 && p.size() > best_len && p.back() == '/' && path.size() > p.size() && path.starts_with(p)) {
                best = &h;
                best_len = p.size();
            }
        return best;
    }

    void answer(response r, bool keep, bool head) {
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
        res.set(bhttp::field::content_type, r.content_type);
        res.set(bhttp::field::cache_control, "no-store");
        res.set("X-Content-Type-Options", "nosniff");
        for (auto& [name, value] : r.headers) res.set(name, value);
        res.body() = std::move(r.body);
        reply(std::move(res), keep, head);
    }

    static bhttp::response<bhttp::string_body> make(unsigned status, std::string body) {
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
        res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
        res.body() = std::move(body);
        return res;
    }

    void reply(bhttp::response<bhttp::string_body> res, bool keep_alive, bool head = false) {
        res.keep_alive(keep_alive);
        res.prepare_payload();  // Content-Length of the body, also for HEAD
        if (head) res.body().clear();
        res_ = std::move(res);
        stream_.expires_after(opts_.timeout);
        auto self = shared_from_this();
        if (head) {
            // The header only: Content-Length keeps the GET's length.
            serializer_.emplace(res_);
            bhttp::async_write_header(stream_, *serializer_, [self, keep_alive](beast::error_code ec, std::size_t) {
                self->on_written(ec, keep_alive);
            });
            return;
        }
        bhttp::async_write(stream_, res_, [self, keep_alive](beast::error_code ec, std::size_t) {
            self->on_written(ec, keep_alive);
        });
    }

    void on_written(beast::error_code ec, bool keep_alive) {
        serializer_.reset();
        if (ec || !keep_alive) return close();
        do_read(opts_.idle_timeout);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    bhttp::response<bhttp::string_body> res_;
    std::optional<bhttp::response_serializer<bhttp::string_body>> serializer_;
    std::shared_ptr<const void> owner_;
    const std::map<std::string, handler>& routes_;
    const server_options& opts_;
    std::atomic<std::size_t>& count_;
};

}  // namespace

struct server::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& io, server_options o, std::map<std::string, handler> r)
        : io_(io), opts_(std::move(o)), routes_(std::move(r)), acceptor_(io) {}

    void bind() {
        // "HOST:FIRST-LAST": the host part is read as any HOST:PORT, the range here.
        const auto colon = opts_.listen.rfind(':'), dash = opts_.listen.rfind('-');
        const bool range = colon != std::string::npos && dash != std::string::npos && dash > colon;
        auto [host, port_text] = net::split_host_port(range ? opts_.listen.substr(0, dash) : opts_.listen, "http.listen");
        auto [first, last] =
            parse_port_range(range ? port_text + opts_.listen.substr(dash) : port_text, "http.listen");
        beast::error_code ec;
        const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
        if (ec) throw config_error("http.listen: '" + host + "' is not an IP address (in '" + opts_.listen + "')");
        std::string last_error;
        for (unsigned p = first; p <= last; ++p) {
            const tcp::endpoint ep(address, static_cast<std::uint16_t>(p));
            acceptor_.open(ep.protocol(), ec);
            if (ec) throw service_error("http.listen " + opts_.listen + ": open: " + ec.message(), false);
            acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
            acceptor_.bind(ep, ec);
            if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
            if (!ec) {
                port_ = acceptor_.local_endpoint().port();
                return;
            }
            last_error = ec.message();
            acceptor_.close(ec);
        }
        throw service_error("http.listen " + opts_.listen + ": no port free: " + last_error, false);
    }

    void do_accept() {
        acceptor_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
            if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
            if (!ec) self->on_accept(std::move(s));
            self->do_accept();
        });
    }

    void on_accept(tcp::socket s) {
        if (count_.fetch_add(1) >= opts_.max_connections) {
            count_.fetch_sub(1);
            beast::error_code ec;
            s.close(ec);  // over the bound: a scraper retries, nothing here grows
            return;
        }
        auto sess = std::make_shared<session>(std::move(s), shared_from_this(), routes_, opts_, count_);
        sessions_.push_back(sess);
        std::erase_if(sessions_, [](const std::weak_ptr<session>& w) { return w.expired(); });
        sess->start();
    }

    asio::io_context& io_;
    server_options opts_;
    std::map<std::string, handler> routes_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::atomic<std::size_t> count_{0};
    std::atomic<bool> listening_{false};
    std::vector<std::weak_ptr<session>> sessions_;  // io thread only; for stop()
};

server::server(asio::io_context& io, server_options opts, std::map<std::string, handler> routes)
    : impl_(std::make_shared<impl>(io, std::move(opts), std::move(routes))) {
    impl_->bind();
}

server::~server() {
    beast::error_code ec;
    impl_->acceptor_.close(ec);
}

void server::start() {
    impl_->listening_ = true;
    asio::post(impl_->io_, [i = impl_] { i->do_accept(); });
    PFO3_LOG(info, "http listening", {{"listen", impl_->opts_.listen}, {"port", std::to_string(impl_->port_)}});
}

void server::stop() {
    impl_->listening_ = false;
    asio::post(impl_->io_, [i = impl_] {
        beast::error_code ec;
        i->acceptor_.close(ec);
        for (auto& w : i->sessions_)
            if (auto s = w.lock()) s->close();
        i->sessions_.clear();
    });
}

std::uint16_t server::port() const { return impl_->port_; }

bool server::listening() const { return impl_->listening_.load(); }

}  // namespace pfo3::http
