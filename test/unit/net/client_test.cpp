// The blocking client: address parsing, connect failures, line reading.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <utility>

#include "pfo3/core/error.hpp"
#include "pfo3/net/client.hpp"

using namespace std::chrono_literals;
using pfo3::net::split_host_port;
using pairs = std::pair<std::string, std::string>;

TEST_CASE("split_host_port accepts host names, IPv4 and bracketed IPv6", "[client]") {
    CHECK(split_host_port("127.0.0.1:5000", "x") == pairs{"127.0.0.1", "5000"});
    CHECK(split_host_port("localhost:0", "x") == pairs{"localhost", "0"});
    CHECK(split_host_port("0.0.0.0:65535", "x") == pairs{"0.0.0.0", "65535"});
    CHECK(split_host_port("[::1]:5000", "x") == pairs{"::1", "5000"});
    CHECK(split_host_port("[::]:80", "x") == pairs{"::", "80"});
}

TEST_CASE("split_host_port rejects malformed addresses, naming the setting", "[client]") {
    for (const char* bad : {"", "host", "host:", ":5000", "::1:5000", "[::1]5000", "[::1",
                            "[]:5000", "h:65536", "h:abc", "h:-1", "h:123456", "h:5000 "}) {
        INFO(bad);
        try {
            split_host_port(bad, "send.server");
            FAIL("accepted");
        } catch (const pfo3::config_error& e) {
            CHECK(std::string(e.what()).find("send.server") != std::string::npos);
        }
    }
}

TEST_CASE("connecting to a closed port is a retryable service_error naming the address",
          "[client]") {
    // Bind then close a socket to find a port nobody listens on.
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto address = "127.0.0.1:" + std::to_string(a.local_endpoint().port());
    a.close();
    try {
        pfo3::net::client c(address, 2000ms);
        FAIL("connected");
    } catch (const pfo3::service_error& e) {
        CHECK(e.retryable());
        CHECK(std::string(e.what()).find(address) != std::string::npos);
    }
}

TEST_CASE("read_line splits lines across reads and reports the close", "[client]") {
    using boost::asio::ip::tcp;
    boost::asio::io_context io;
    tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto address = "127.0.0.1:" + std::to_string(a.local_endpoint().port());
    auto peer = std::async(std::launch::async, [&] {
        tcp::socket s = a.accept();
        boost::asio::write(s, boost::asio::buffer(std::string("one\ntw")));
        boost::asio::write(s, boost::asio::buffer(std::string("o\n\nthree\n")));
        s.shutdown(tcp::socket::shutdown_send);
        char c;
        boost::system::error_code ec;
        s.read_some(boost::asio::buffer(&c, 1), ec);  // until the client closes
    });
    {
        pfo3::net::client c(address, 2000ms);
        CHECK(c.read_line(5000ms) == std::optional<std::string>("one"));
        CHECK(c.read_line(5000ms) == std::optional<std::string>("two"));
        CHECK(c.read_line(5000ms) == std::optional<std::string>(""));
        CHECK(c.read_line() == std::optional<std::string>("three"));
        CHECK(c.read_line(5000ms) == std::nullopt);
    }
    REQUIRE(peer.wait_for(10s) == std::future_status::ready);
}

TEST_CASE("read_line with a timeout throws when nothing arrives, and the client stays usable",
          "[client]") {
    using boost::asio::ip::tcp;
    boost::asio::io_context io;
    tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto address = "127.0.0.1:" + std::to_string(a.local_endpoint().port());
    pfo3::net::client c(address, 2000ms);
    tcp::socket s = a.accept();
    CHECK_THROWS_AS(c.read_line(100ms), pfo3::service_error);
    boost::asio::write(s, boost::asio::buffer(std::string("late\n")));
    CHECK(c.read_line(5000ms) == std::optional<std::string>("late"));
}
