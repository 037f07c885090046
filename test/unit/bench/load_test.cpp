// The load generator's own checks, and what it reports when the server is not there.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load.hpp"
#include "pfo3/core/error.hpp"

using namespace pfo3::bench;

namespace {

// A local port with nothing listening: bound, then closed.
std::string closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    ::close(fd);
    return "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
}

}  // namespace

TEST_CASE("impossible loads are usage errors") {
    load_options o;
    o.server = "127.0.0.1:1";
    o.request = "{}";
    o.tasks = 0;
    CHECK_THROWS_AS(run_load(o), pfo3::config_error);
    o.tasks = 2;
    o.connections = 3;
    CHECK_THROWS_AS(run_load(o), pfo3::config_error);
    o.connections = 1;
    o.window = 0;
    CHECK_THROWS_AS(run_load(o), pfo3::config_error);
    o.window = 1;
    o.rate = 0.0;
    CHECK_THROWS_AS(run_load(o), pfo3::config_error);
}

TEST_CASE("a server nobody listens on: every connection failed, every task counted lost, nothing accepted") {
    load_options o;
    o.server = closed_port();
    o.request = "{\"type\":\"echo\",\"payload\":1}";
    o.tasks = 7;
    o.connections = 3;
    const auto r = run_load(o);
    CHECK(r.connections_failed == 3);
    CHECK(r.failures.size() == 3);
    CHECK(r.failures[0].find(o.server) != std::string::npos);
    CHECK(r.ids.empty());
    CHECK(r.tasks.size() == 7);  // 3 + 2 + 2: the tasks are split over the connections
    CHECK(r.errors.at("connection_lost") == 7);
    for (const auto& t : r.tasks) CHECK_FALSE(t.ok);
}
