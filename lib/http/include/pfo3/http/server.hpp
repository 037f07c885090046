#pragma once
// A small HTTP/1.1 server (Boost.Beast) for the operations endpoints of a role: GET and HEAD,
// POST where a route asks for it, a fixed table of paths (a path ending in '/', other than "/"
// itself, also answers every path below it), bounded connections, request size and time. Runs
// on the io_context it is given (the role's own loop, one thread), so a handler must be quick
// and must not block: it reads atomics and renders text, or hands the work to a thread of its
// own and answers later (handler::deferred). start()/stop() post to that loop.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pfo3::http {

struct response {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers = {};  ///< extra header fields
};

/// What a handler may look at.
struct request {
    std::string method;  ///< "GET", "HEAD" or "POST"
    std::string path;    ///< without the query
    std::string query;   ///< after '?', undecoded
    std::string peer;    ///< the client's numeric address
    std::string authorization, csrf_token, origin, host, content_type;  ///< header fields (X-CSRF-Token)
    std::string body;
};

/// Gets the answer of a deferred handler; callable once, from any thread.
using respond = std::function<void(response)>;

/// Answers a path: from nothing, from the request, or later (deferred). POST reaches it only
/// when made with `accept_post`; GET and HEAD reach every handler.
class handler {
public:
    using full = std::function<void(const request&, respond)>;
    template <class F>
        requires std::is_invocable_r_v<response, F&>
    handler(F f)  // NOLINT: implicit, so a route is just a lambda
        : run_([f = std::move(f)](const request&, respond done) mutable { done(f()); }) {}
    template <class F>
        requires std::is_invocable_r_v<response, F&, const request&>
    handler(F f)  // NOLINT
        : run_([f = std::move(f)](const request& r, respond done) mutable { done(f(r)); }) {}
    /// `f` answers through its `respond`, now or from another thread.
    static handler deferred(full f) { return handler(std::move(f), 0); }
    /// The same handler, reached by POST too.
    handler accept_post() && {
        post_ = true;
        return std::move(*this);
    }
    bool takes_post() const noexcept { return post_; }
    void operator()(const request& r, respond done) const { run_(r, std::move(done)); }

private:
    handler(full f, int) : run_(std::move(f)) {}
    full run_;
    bool post_ = false;
};

struct server_options {
    /// "HOST:PORT", or "HOST:FIRST-LAST": the first port of the range that is free (several
    /// workers on one host share one setting). Port 0 picks any free port.
    std::string listen = "127.0.0.1:5080";
    std::size_t max_connections = 64;       ///< past it new connections are closed at once
    std::size_t max_request_bytes = 16384;  ///< request line + headers + body
    std::chrono::seconds timeout{10};       ///< a request must arrive, and its answer leave, within it
    std::chrono::seconds idle_timeout{60};  ///< a kept-alive connection with no request is closed
};

/// See the file comment. Construct and destroy it outside run() on its io_context.
class server {
public:
    /// Binds and listens at once; throws config_error for a listen address it cannot use and
    /// service_error if no port (of the range) is free.
    server(boost::asio::io_context& io, server_options opts, std::map<std::string, handler> routes);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    void start();
    /// Closes the listener and every connection.
    void stop();
    std::uint16_t port() const;
    /// True while listening (after start(), before stop()).
    bool listening() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

/// Parses the port part of a listen setting: "5080" → {5080, 5080}, "5081-5099" → {5081, 5099}.
/// Throws config_error naming `what`.
std::pair<std::uint16_t, std::uint16_t> parse_port_range(const std::string& port, const std::string& what);

}  // namespace pfo3::http
