// A task's own time limit (request "timeout_ms"): a client may ask for less than the
// operator's [handlers.NAME] timeout_s, never more; it bounds the built-in sleep.
#include <catch2/catch.hpp>

#include <chrono>

#include "pfo3/handlers/registry.hpp"

using namespace std::chrono_literals;
using pfo3::handlers::external_command;
using pfo3::handlers::outcome;
using pfo3::handlers::registry;

namespace {

pfo3::task make(const std::string& type, const std::string& payload, std::int64_t timeout_ms) {
    pfo3::task t;
    t.id = "limit-1";
    t.type = type;
    t.payload_json = payload;
    t.timeout_ms = timeout_ms;
    return t;
}

}  // namespace

TEST_CASE("sleep longer than the task's time limit fails as a timeout, retryably") {
    auto start = std::chrono::steady_clock::now();
    outcome o = registry{}.run(make("sleep", "5000", 100));
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(o.status == outcome::kind::failed);
    CHECK_THAT(o.error, Catch::Contains("timed out after 100 ms"));
    CHECK(took >= 100ms);
    CHECK(took < 4s);
}

TEST_CASE("sleep within the task's time limit succeeds") {
    outcome o = registry{}.run(make("sleep", "20", 1000));
    CHECK(o.status == outcome::kind::done);
}

TEST_CASE("a task may ask for less time than the handler's timeout") {
    registry r({{"slow", external_command{{"/bin/sh", "-c", "sleep 5"}, 30s}}});
    auto start = std::chrono::steady_clock::now();
    outcome o = r.run(make("slow", "null", 200));
    REQUIRE(o.status == outcome::kind::failed);
    CHECK_THAT(o.error, Catch::Contains("timed out after 200 ms"));
    CHECK(std::chrono::steady_clock::now() - start < 4s);
}

TEST_CASE("a task cannot raise the handler's timeout: the operator's limit caps it") {
    registry r({{"slowish", external_command{{"/bin/sh", "-c", "sleep 5; echo 1"}, 150ms}}});
    auto start = std::chrono::steady_clock::now();
    outcome o = r.run(make("slowish", "null", 60000));
    REQUIRE(o.status == outcome::kind::failed);
    CHECK_THAT(o.error, Catch::Contains("timed out after 150 ms"));
    CHECK(std::chrono::steady_clock::now() - start < 4s);
}

TEST_CASE("without a task time limit the handler's own timeout applies") {
    registry r({{"slow", external_command{{"/bin/sh", "-c", "sleep 5"}, 150ms}}});
    outcome o = r.run(make("slow", "null", 0));
    REQUIRE(o.status == outcome::kind::failed);
    CHECK_THAT(o.error, Catch::Contains("timed out after 150 ms"));
}
