// What one client can take from the server, against real sockets on 127.0.0.1: reply memory
// bounded in bytes, a write timeout for a peer that takes no replies, a deadline for a request
// to arrive whole, a cap on connections per address, and the operator's max_attempts limit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "pfo3/core/unique_fd.hpp"
#include "server_harness.hpp"

using namespace std::chrono_literals;
using namespace server_harness;
using steady = std::chrono::steady_clock;

namespace {

// A plain socket, for what the protocol client does not let a test choose: the local address,
// a tiny receive buffer, single bytes at a chosen pace.
class raw_peer {
public:
    raw_peer(std::uint16_t port, const char* from = "127.0.0.1", int rcvbuf = 0)
        : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        REQUIRE(fd_.get() >= 0);
        if (rcvbuf > 0) REQUIRE(setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        REQUIRE(inet_pton(AF_INET, from, &local.sin_addr) == 1);
        REQUIRE(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        REQUIRE(inet_pton(AF_INET, "127.0.0.1", &to.sin_addr) == 1);
        REQUIRE(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    }

    /// Sends all of `bytes`; false once the server has closed the connection.
    bool send(const std::string& bytes) {
        std::size_t off = 0;
        while (off < bytes.size()) {
            auto n = ::send(fd_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }

    bool readable_within(std::chrono::milliseconds wait) {
        pollfd p{fd_.get(), POLLIN, 0};
        return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
    }

    /// One line without '\n'; "" on EOF, a reset or the deadline (then `eof` says which).
    std::string read_line(std::chrono::milliseconds wait = 10s) {
        const auto until = steady::now() + wait;
        for (;;) {
            if (auto nl = buf_.find('\n'); nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
            if (left.count() <= 0 || !readable_within(left)) return "";
            char chunk[65536];
            auto n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
            if (n <= 0) {
                eof = true;
                return "";
            }
            buf_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    /// True when the server closes the connection within `wait` (data before the EOF is read
    /// and dropped).
    bool closed_within(std::chrono::milliseconds wait) {
        const auto until = steady::now() + wait;
        while (!eof) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
            if (left.count() <= 0 || !readable_within(left)) return false;
            char chunk[65536];
            if (::recv(fd_.get(), chunk, sizeof chunk, 0) <= 0) eof = true;
        }
        return true;
    }

    void close() { fd_.reset(); }

    bool eof = false;

private:
    pfo3::unique_fd fd_;
    std::string buf_;
};

std::string status_request(int i) { return R"({"op":"status","id":"s)" + std::to_string(i) + "\"}\n"; }

bool pings_promptly(const running_server& s) {
    auto c = s.connect();
    c.write("{\"op\":\"ping\"}\n");
    return read(c) == pong();
}

}  // namespace

TEST_CASE("a peer that reads no replies is not read from once its unsent replies pass the byte "
          "budget, and is read again as they drain",
          "[server][limits]") {
    auto o = local_options();
    o.max_unsent_reply_bytes = 64 * 1024;
    o.max_status_in_flight = 4;
    running_server s(o);
    constexpr std::size_t result_bytes = 256 * 1024;
    s.d.answer_status_with(result_bytes);
    raw_peer p(s.srv.port(), "127.0.0.1", 4096);
    constexpr int n = 100;
    std::string all;
    for (int i = 0; i < n; ++i) all += status_request(i);
    REQUIRE(p.send(all));  // small: the kernel takes it all at once

    // The kernel buffers of both ends take ~4 MiB of replies, about 16 of them; a few more
    // are in flight. Without the budget every request would be dispatched (max_pipelined is
    // 1024) and ~25 MiB of replies held.
    constexpr std::size_t bound = 32;
    REQUIRE(s.d.wait_dispatched(1));
    CHECK_FALSE(s.d.wait_dispatched(bound + 1, 1500ms));
    WARN("dispatched while the peer read nothing: " << s.d.dispatched() << " of " << n);
    CHECK(pings_promptly(s));  // other connections are served meanwhile

    // The peer reads now: every reply arrives, in order, and reading resumed to get them.
    for (int i = 0; i < n; ++i) {
        const std::string line = p.read_line();
        REQUIRE(line.size() > result_bytes);
        REQUIRE(line.find(R"("id":"s)" + std::to_string(i) + "\"") != std::string::npos);
    }
    CHECK(s.d.dispatched() == static_cast<std::size_t>(n) + 1);  // and the ping
}

TEST_CASE("a peer that takes no replies for write_timeout is closed, others are served",
          "[server][limits]") {
    auto o = local_options();
    o.max_unsent_reply_bytes = 64 * 1024;
    o.write_timeout = 1s;
    running_server s(o);
    s.d.answer_status_with(256 * 1024);
    raw_peer p(s.srv.port(), "127.0.0.1", 4096);
    std::string all;
    for (int i = 0; i < 100; ++i) all += status_request(i);
    REQUIRE(p.send(all));
    REQUIRE(s.d.wait_dispatched(1));
    const auto started = steady::now();
    CHECK(pings_promptly(s));

    // Closed by the server: the connection leaves its table (the peer's socket still holds
    // the replies the kernel delivered, so EOF is far behind them).
    const auto until = started + 10s;
    while (s.srv.connection_count() > 0 && steady::now() < until) std::this_thread::sleep_for(20ms);
    CHECK(s.srv.connection_count() == 0);
    CHECK(steady::now() - started >= 900ms);
    CHECK(p.closed_within(10s));
}

TEST_CASE("a request must arrive whole within request_timeout however slowly bytes trickle in",
          "[server][limits]") {
    auto o = local_options();
    o.request_timeout = 1s;
    running_server s(o);
    raw_peer p(s.srv.port());
    REQUIRE(p.send(R"({"op":"ping","pad":")"));
    const auto first_byte = steady::now();
    std::string line;
    // One byte every 200 ms: each is news, none completes the request.
    while (line.empty() && !p.eof && steady::now() - first_byte < 10s) {
        if (!p.send("x")) break;
        if (p.readable_within(200ms)) line = p.read_line();
    }
    const auto answered_after = steady::now() - first_byte;
    INFO(line);
    CHECK(has_error(line, "bad_request"));
    CHECK(line.find("did not arrive whole within 1 s") != std::string::npos);
    CHECK(answered_after >= 900ms);
    CHECK(answered_after < 5s);
    CHECK(p.closed_within(10s));
    CHECK(pings_promptly(s));
}

TEST_CASE("whitespace trickled in is not activity: the idle timeout still closes the connection",
          "[server][limits]") {
    auto o = local_options();
    o.idle_timeout = 1s;
    running_server s(o);
    raw_peer p(s.srv.port());
    const auto opened = steady::now();
    bool closed = false;
    // One space every 200 ms for up to 6 s: a server that counted them as activity would keep
    // the connection open all that time.
    while (!closed && steady::now() - opened < 6s) {
        if (!p.send(" ")) {
            closed = p.closed_within(2s);
            break;
        }
        closed = p.closed_within(200ms);
    }
    CHECK(closed);
    CHECK(steady::now() - opened >= 900ms);
}

TEST_CASE("a request that arrives whole in time is answered, and the next one gets its own deadline",
          "[server][limits]") {
    auto o = local_options();
    o.request_timeout = 1s;
    running_server s(o);
    raw_peer p(s.srv.port());
    for (int round = 0; round < 3; ++round) {
        // 600 ms per request, 1.8 s in all: longer than the deadline, each one within it.
        REQUIRE(p.send(R"({"op":)"));
        std::this_thread::sleep_for(300ms);  // the pace of the peer under test, not a wait for the server
        REQUIRE(p.send(R"("pi)"));
        std::this_thread::sleep_for(300ms);
        REQUIRE(p.send("ng\"}\n"));
        CHECK(p.read_line() == pong());
    }
}

TEST_CASE("beyond max_connections_per_address a connection from that address is answered "
          "overloaded and closed, other addresses are not affected",
          "[server][limits]") {
    auto o = local_options();
    o.max_connections_per_address = 2;
    running_server s(o);
    const auto port = s.srv.port();
    raw_peer first(port), second(port);
    for (auto* p : {&first, &second}) {  // each answered: both are registered sessions
        REQUIRE(p->send("{\"op\":\"ping\"}\n"));
        REQUIRE(p->read_line() == pong());
    }

    raw_peer third(port);
    CHECK(third.read_line() ==
          R"({"ok":false,"error":"overloaded","message":"too many connections from this address"})");
    CHECK(third.closed_within(10s));

    raw_peer elsewhere(port, "127.0.0.2");
    REQUIRE(elsewhere.send("{\"op\":\"ping\"}\n"));
    CHECK(elsewhere.read_line() == pong());

    // A place freed at that address is given to the next connection from it.
    first.close();
    bool admitted = false;
    const auto until = steady::now() + 10s;
    while (!admitted && steady::now() < until) {
        raw_peer next(port);
        REQUIRE(next.send("{\"op\":\"ping\"}\n"));
        admitted = next.read_line() == pong();
    }
    CHECK(admitted);
}

TEST_CASE("max_attempts above the operator's limit is bad_request naming the limit", "[server][limits]") {
    auto o = local_options();
    o.request.max_attempts = 3;
    running_server s(o);
    auto c = s.connect();
    c.write(R"({"type":"echo","id":"m1","max_attempts":4})" "\n" R"({"type":"echo","id":"m2","max_attempts":3})" "\n");
    const std::string refused = read(c);
    CHECK(has_error(refused, "bad_request"));
    CHECK(refused.find("at most 3") != std::string::npos);
    CHECK(refused.find("max_attempts_limit") != std::string::npos);
    CHECK(read(c) == accepted("m2"));
    CHECK(s.d.dispatched() == 1);
}
