#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <string>
#include <thread>

#include "pfo3/core/error.hpp"
#include "pfo3/http/server.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace pfo3;

namespace {

// Sends `request` raw and returns everything the server writes until it closes.
std::string exchange(std::uint16_t port, const std::string& request) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::write(s, asio::buffer(request));
    std::string out;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(out), ec);  // until EOF (Connection: close)
    return out;
}

struct running {
    asio::io_context io{1};
    http::server server;
    std::thread thread;
    explicit running(http::server_options o)
        : server(io, o, {{"/hello", [] { return http::response{200, "text/plain", "hi\n"}; }},
                         {"/down", [] { return http::response{503, "application/json", "{}"}; }}}) {
        server.start();
        thread = std::thread([this] { io.run(); });
    }
    ~running() {
        server.stop();
        thread.join();
    }
};

http::server_options local(std::string listen = "127.0.0.1:0") {
    http::server_options o;
    o.listen = std::move(listen);
    o.max_request_bytes = 1024;
    return o;
}

}  // namespace

TEST_CASE("GET and HEAD of a known path, 404 for others, 405 for other methods") {
    running r(local());
    const auto port = r.server.port();
    auto ok = exchange(port, "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK(ok.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(ok.ends_with("\r\n\r\nhi\n"));
    auto head = exchange(port, "HEAD /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(head.find("Content-Length: 3\r\n") != std::string::npos);
    CHECK(head.ends_with("\r\n\r\n"));
    CHECK(exchange(port, "GET /down HTTP/1.1\r\nConnection: close\r\n\r\n").starts_with("HTTP/1.1 503"));
    CHECK(exchange(port, "GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n").starts_with("HTTP/1.1 404"));
    auto post = exchange(port, "POST /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    CHECK(post.starts_with("HTTP/1.1 405"));
    CHECK(post.find("Allow: GET, HEAD") != std::string::npos);
}

TEST_CASE("a request past max_request_bytes is refused and the connection closed") {
    running r(local());
    auto big = exchange(r.server.port(), "GET /hello HTTP/1.1\r\nX: " + std::string(4096, 'x') + "\r\n\r\n");
    CHECK(big.starts_with("HTTP/1.1 413"));
    CHECK(exchange(r.server.port(), "garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
    CHECK(exchange(r.server.port(), "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n").starts_with("HTTP/1.1 200"));
}

TEST_CASE("keep-alive: two requests on one connection") {
    running r(local());
    auto both = exchange(r.server.port(), "GET /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
    CHECK(both.find("HTTP/1.1 200") == 0);
    CHECK(both.find("HTTP/1.1 200", 5) != std::string::npos);
}

TEST_CASE("a port range takes the first free port, and a full range is an error naming the setting") {
    asio::io_context io;
    http::server probe(io, local(), {});
    const std::uint16_t free = probe.port();
    probe.stop();
    io.run();
    // A range starting at a port in use skips it.
    tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto busy = taken.local_endpoint().port();
    if (busy < 65535) {
        http::server s(io, local("127.0.0.1:" + std::to_string(busy) + "-" + std::to_string(busy + 1)), {});
        CHECK(s.port() == busy + 1);
    }
    CHECK_THROWS_WITH(http::server(io, local("127.0.0.1:" + std::to_string(busy)), {}),
                      Catch::Contains("http.listen") && Catch::Contains("no port free"));
    CHECK_THROWS_AS(http::server(io, local("localhost:x"), {}), config_error);
    CHECK_THROWS_AS(http::server(io, local("example.org:80"), {}), config_error);
    CHECK(free > 0);
}

TEST_CASE("port ranges") {
    CHECK(http::parse_port_range("5080", "k") == std::pair<std::uint16_t, std::uint16_t>{5080, 5080});
    CHECK(http::parse_port_range("5081-5099", "k") == std::pair<std::uint16_t, std::uint16_t>{5081, 5099});
    CHECK_THROWS_AS(http::parse_port_range("5099-5081", "k"), config_error);
    CHECK_THROWS_AS(http::parse_port_range("0-5", "k"), config_error);
    CHECK_THROWS_AS(http::parse_port_range("70000", "k"), config_error);
    CHECK_THROWS_AS(http::parse_port_range("", "k"), config_error);
}

TEST_CASE("POST reaches only a route that takes it, and handlers see the request and may answer later") {
    asio::io_context io{1};
    std::thread helper;
    std::map<std::string, http::handler> routes{
        {"/echo", http::handler([](const http::request& r) {
                      return http::response{200, "text/plain",
                                            r.method + " " + r.path + " q=" + r.query + " csrf=" + r.csrf_token +
                                                " peer=" + r.peer + " body=" + r.body,
                                            {{"X-Extra", "1"}}};
                  }).accept_post()},
        {"/later/", http::handler::deferred([&helper](const http::request& r, http::respond done) {
             // Answered from another thread, as a store read would be.
             helper = std::thread([done, tail = r.path.substr(7)] { done(http::response{200, "text/plain", tail}); });
         })},
    };
    http::server server(io, local(), std::move(routes));
    server.start();
    std::thread t([&io] { io.run(); });
    const auto port = server.port();
    auto post = exchange(port,
                         "POST /echo?a=1 HTTP/1.1\r\nX-CSRF-Token: tok\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    CHECK(post.starts_with("HTTP/1.1 200"));
    CHECK(post.find("X-Extra: 1\r\n") != std::string::npos);
    CHECK(post.ends_with("POST /echo q=a=1 csrf=tok peer=127.0.0.1 body=hello"));
    auto later = exchange(port, "GET /later/abc HTTP/1.1\r\nConnection: close\r\n\r\n");
    CHECK(later.starts_with("HTTP/1.1 200"));
    CHECK(later.ends_with("\r\n\r\nabc"));
    // Only paths below the prefix: not a path that merely starts like it.
    CHECK(exchange(port, "GET /laterx HTTP/1.1\r\nConnection: close\r\n\r\n").starts_with("HTTP/1.1 404"));
    CHECK(exchange(port, "PUT /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n").starts_with("HTTP/1.1 405"));
    server.stop();
    t.join();
    if (helper.joinable()) helper.join();
}
