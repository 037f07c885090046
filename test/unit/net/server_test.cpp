// The server against real sockets on 127.0.0.1 with a fake dispatcher: framing, pipelining
// order, backpressure, limits, idle timeout and shutdown. Every wait has a deadline.
#include <algorithm>
#include <catch2/catch.hpp>
#include <future>
#include <random>

#include "pfo3/core/error.hpp"
#include "server_harness.hpp"

using namespace std::chrono_literals;
using namespace server_harness;

TEST_CASE("ping is answered with pong", "[server]") {
    running_server s;
    auto c = s.connect();
    c.write("{\"op\":\"ping\"}\n");
    CHECK(read(c) == pong());
    CHECK(s.srv.connection_count() == 1);
}

TEST_CASE("pipelined requests are answered in request order whatever order replies come in",
          "[server]") {
    running_server s;
    s.d.hold(true);
    auto c = s.connect();
    constexpr int n = 1000;
    std::string batch;
    for (int i = 0; i < n; ++i) batch += submit("r" + std::to_string(i)) + "\n";
    c.write(batch);

    // Replies come from another thread, shuffled.
    auto releaser = std::async(std::launch::async, [&] {
        std::vector<fake_dispatcher::held_request> all;
        while (all.size() < static_cast<std::size_t>(n)) {
            auto some = s.d.take_held();
            if (some.empty()) return false;
            for (auto& h : some) all.push_back(std::move(h));
        }
        std::mt19937 rng(42);
        std::shuffle(all.begin(), all.end(), rng);
        for (auto& h : all) h.done(fake_dispatcher::answer(h.req));
        return true;
    });
    REQUIRE(releaser.wait_for(deadline) == std::future_status::ready);
    REQUIRE(releaser.get());
    for (int i = 0; i < n; ++i) REQUIRE(read(c) == accepted("r" + std::to_string(i)));
}

TEST_CASE("objects with no newline between them are all answered", "[server]") {
    running_server s;
    auto c = s.connect();
    c.write(R"({"op":"ping"}{"op":"submit","type":"echo","payload":[1,{"a":"}"}],"id":"x"} {"op":"ping"})");
    CHECK(read(c) == pong());
    CHECK(read(c) == accepted("x"));
    CHECK(read(c) == pong());
}

TEST_CASE("a request split across writes is answered once complete", "[server]") {
    running_server s;
    auto c = s.connect();
    c.write(R"({"op":"submit","type":"echo",)");
    REQUIRE(s.d.dispatched() == 0);
    c.write(R"("payload":"a","id":"split"})");
    CHECK(read(c) == accepted("split"));
}

TEST_CASE("the teaching client's pattern works: one object, no newline, connection kept",
          "[server]") {
    running_server s;
    auto c = s.connect();
    c.write(R"({"id": "t1", "accion": "sumar", "datos": [1, 2]})");
    CHECK(read(c) == accepted("t1"));
    c.write(R"({"id": "t2", "accion": "echo", "datos": "hola"})");
    CHECK(read(c) == accepted("t2"));
}

TEST_CASE("bad JSON is answered and the next request on the connection still works",
          "[server]") {
    running_server s;
    auto c = s.connect();
    c.write("%not json at all\n{\"op\":\"ping\"}\n");
    CHECK(has_error(read(c), "bad_json"));
    CHECK(read(c) == pong());
    // Framed but not parseable: answered, and the connection goes on.
    c.write("{\"op\":\"ping\",}\n{\"op\":\"ping\"}\n");
    CHECK(has_error(read(c), "bad_json"));
    CHECK(read(c) == pong());
    // Valid JSON that is not a valid request gets its own error, and the connection goes on.
    c.write("[1,2]\n{\"op\":\"nope\"}\n{\"op\":\"ping\"}\n");
    CHECK(read(c).find(R"("ok":false)") != std::string::npos);
    CHECK(has_error(read(c), "unknown_op"));
    CHECK(read(c) == pong());
}

TEST_CASE("a request over max_request_bytes gets line_too_long, then the connection closes",
          "[server]") {
    auto o = local_options();
    o.max_request_bytes = 1024;
    running_server s(o);
    auto other = s.connect();
    auto c = s.connect();
    c.write(R"({"op":"submit","type":"echo","payload":")" + std::string(4000, 'x') + "\"}\n");
    CHECK(has_error(read(c), "line_too_long"));
    CHECK(closed(c));
    // Other connections are not affected.
    other.write("{\"op\":\"ping\"}\n");
    CHECK(read(other) == pong());
}

TEST_CASE("a request of exactly max_request_bytes is accepted", "[server]") {
    auto o = local_options();
    o.max_request_bytes = 1024;
    running_server s(o);
    auto c = s.connect();
    std::string req = R"({"op":"submit","type":"echo","id":"big","payload":")";
    const std::string tail = "\"}";
    req += std::string(o.max_request_bytes - req.size() - tail.size(), 'y') + tail;
    REQUIRE(req.size() == o.max_request_bytes);
    c.write(req + "\n");
    CHECK(read(c) == accepted("big"));
}

TEST_CASE("above max_connections a new connection is answered overloaded and closed",
          "[server]") {
    auto o = local_options();
    o.max_connections = 1;
    running_server s(o);
    auto first = s.connect();
    first.write("{\"op\":\"ping\"}\n");
    REQUIRE(read(first) == pong());  // the first connection is registered now

    auto second = s.connect();
    CHECK(read(second) == R"({"ok":false,"error":"overloaded","message":"too many connections"})");
    CHECK(closed(second));

    first.write("{\"op\":\"ping\"}\n");
    CHECK(read(first) == pong());
}

TEST_CASE("reading pauses at max_pipelined unanswered requests and resumes in order",
          "[server]") {
    auto o = local_options();
    o.max_pipelined = 4;
    running_server s(o);
    s.d.hold(true);
    auto c = s.connect();
    constexpr std::size_t n = 50;
    std::string batch;
    for (std::size_t i = 0; i < n; ++i) batch += submit("b" + std::to_string(i)) + "\n";
    c.write(batch);

    REQUIRE(s.d.wait_dispatched(o.max_pipelined));
    // All 50 were sent, but no more than max_pipelined may be taken while none is answered.
    CHECK_FALSE(s.d.wait_dispatched(o.max_pipelined + 1, 300ms));
    CHECK(s.d.dispatched() == o.max_pipelined);

    // Release in reverse order, batch by batch, checking the bound every time.
    auto releaser = std::async(std::launch::async, [&] {
        std::size_t released = 0;
        std::size_t most_held = 0;
        while (released < n) {
            auto some = s.d.take_held();
            if (some.empty()) return std::size_t{0};
            most_held = std::max(most_held, some.size());
            for (auto it = some.rbegin(); it != some.rend(); ++it)
                it->done(fake_dispatcher::answer(it->req));
            released += some.size();
        }
        return most_held;
    });
    for (std::size_t i = 0; i < n; ++i) REQUIRE(read(c) == accepted("b" + std::to_string(i)));
    REQUIRE(releaser.wait_for(deadline) == std::future_status::ready);
    const std::size_t most_held = releaser.get();
    CHECK(most_held >= 1);
    CHECK(most_held <= o.max_pipelined);
}

TEST_CASE("a client that keeps sending is not read from while reading is paused", "[server]") {
    auto o = local_options();
    o.max_pipelined = 4;
    running_server s(o);
    s.d.hold(true);
    auto c = s.connect();
    // Far more than the kernel buffers of both ends hold, so the writer blocks unless the
    // server reads (and buffers) without bound.
    constexpr std::size_t n = 512;
    const std::string padding(64 * 1024, 'p');
    std::string stream;
    for (std::size_t i = 0; i < n; ++i)
        stream += R"({"type":"echo","id":"w)" + std::to_string(i) + R"(","payload":")" + padding +
                  "\"}\n";
    auto writer = std::async(std::launch::async, [&] { c.write(stream); });

    REQUIRE(s.d.wait_dispatched(o.max_pipelined));
    CHECK(writer.wait_for(300ms) == std::future_status::timeout);
    CHECK(s.d.dispatched() == o.max_pipelined);

    std::size_t released = 0;
    while (released < n) {
        auto some = s.d.take_held();
        REQUIRE_FALSE(some.empty());
        REQUIRE(some.size() <= o.max_pipelined);
        for (auto& h : some) h.done(fake_dispatcher::answer(h.req));
        released += some.size();
    }
    REQUIRE(writer.wait_for(deadline) == std::future_status::ready);
    writer.get();
    for (std::size_t i = 0; i < n; ++i) REQUIRE(read(c) == accepted("w" + std::to_string(i)));
}

TEST_CASE("an idle connection is closed after idle_timeout", "[server]") {
    auto o = local_options();
    o.idle_timeout = 1s;
    running_server s(o);
    auto c = s.connect();
    c.write("{\"op\":\"ping\"}\n");
    REQUIRE(read(c) == pong());
    const auto start = std::chrono::steady_clock::now();
    CHECK(closed(c));
    CHECK(std::chrono::steady_clock::now() - start >= 900ms);
}

TEST_CASE("a connection waiting for a reply is not idle", "[server]") {
    auto o = local_options();
    o.idle_timeout = 1s;
    running_server s(o);
    s.d.hold(true);
    auto c = s.connect();
    c.write(submit("slow") + "\n");
    auto held = s.d.take_held();
    REQUIRE(held.size() == 1);
    // Longer than idle_timeout with a request pending: the connection must stay open.
    CHECK_THROWS_AS(c.read_line(2500ms), pfo3::service_error);
    held[0].done(fake_dispatcher::answer(held[0].req));
    CHECK(read(c) == accepted("slow"));
}

TEST_CASE("after the peer shuts down its write side, pending requests are still answered",
          "[server]") {
    running_server s;
    s.d.hold(true);
    auto c = s.connect();
    c.write(submit("e1") + submit("e2"));
    c.shutdown_write();
    REQUIRE(s.d.wait_dispatched(2));
    auto held = s.d.take_held();
    REQUIRE(held.size() == 2);
    held[1].done(fake_dispatcher::answer(held[1].req));
    held[0].done(fake_dispatcher::answer(held[0].req));
    CHECK(read(c) == accepted("e1"));
    CHECK(read(c) == accepted("e2"));
    CHECK(closed(c));
}

TEST_CASE("an incomplete value at end of input is answered bad_json", "[server]") {
    running_server s;
    auto c = s.connect();
    c.write(R"({"op":"ping")");
    c.shutdown_write();
    CHECK(has_error(read(c), "bad_json"));
    CHECK(closed(c));
}

TEST_CASE("shutdown lets in-flight requests finish, then reports drained", "[server]") {
    running_server s;
    s.d.hold(true);
    auto c = s.connect();
    auto other = s.connect();
    other.write("{\"op\":\"submit\",\"type\":\"echo\",\"id\":\"i\"}\n");
    c.write(submit("s1") + "\n" + submit("s2") + "\n");
    REQUIRE(s.d.wait_dispatched(3));
    auto held = s.d.take_held();
    REQUIRE(held.size() == 3);

    std::promise<std::thread::id> drained;
    auto drained_future = drained.get_future();
    s.srv.shutdown([&] { drained.set_value(std::this_thread::get_id()); });
    // Replies are still outstanding: not drained yet.
    CHECK(drained_future.wait_for(200ms) == std::future_status::timeout);

    for (auto& h : held) h.done(fake_dispatcher::answer(h.req));
    CHECK(read(c) == accepted("s1"));
    CHECK(read(c) == accepted("s2"));
    CHECK(closed(c));
    CHECK(read(other) == accepted("i"));
    CHECK(closed(other));
    REQUIRE(drained_future.wait_for(deadline) == std::future_status::ready);
    const auto on = drained_future.get();
    CHECK(std::any_of(s.threads.begin(), s.threads.end(),
                      [&](const std::thread& t) { return t.get_id() == on; }));
    CHECK(s.srv.connection_count() == 0);
    CHECK_THROWS_AS(s.connect(), pfo3::service_error);
}

TEST_CASE("shutdown with no connection reports drained at once", "[server]") {
    running_server s;
    std::promise<void> drained;
    s.srv.shutdown([&] { drained.set_value(); });
    CHECK(drained.get_future().wait_for(deadline) == std::future_status::ready);
}

TEST_CASE("close_all drops connections, a late reply is ignored", "[server]") {
    running_server s;
    s.d.hold(true);
    auto c = s.connect();
    c.write(submit("late") + "\n");
    auto held = s.d.take_held();
    REQUIRE(held.size() == 1);
    s.srv.close_all();
    CHECK(closed(c));
    held[0].done(fake_dispatcher::answer(held[0].req));  // must not crash or write anything
}

TEST_CASE("the server reports a bad or busy listen address", "[server]") {
    boost::asio::io_context io;
    fake_dispatcher d;
    auto o = local_options();
    o.listen = "no-port-here";
    CHECK_THROWS_AS(pfo3::net::server(io, o, d), pfo3::config_error);

    pfo3::net::server first(io, local_options(), d);
    o.listen = "127.0.0.1:" + std::to_string(first.port());
    try {
        pfo3::net::server second(io, o, d);
        FAIL("a second server bound the same port");
    } catch (const pfo3::service_error& e) {
        CHECK(std::string(e.what()).find(o.listen) != std::string::npos);
    }
}
