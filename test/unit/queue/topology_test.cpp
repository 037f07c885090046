#include <catch2/catch.hpp>

#include <chrono>

#include "pfo3/queue/topology.hpp"

using namespace pfo3::queue;
using namespace std::chrono_literals;
using pfo3::backoff_policy;

namespace {

// The wait without jitter (what the jitter is applied to).
std::chrono::milliseconds base_delay(backoff_policy p, int attempt) {
    p.jitter = 0;
    return retry_delay(p, attempt, 0.5);
}

}  // namespace

TEST_CASE("queue names derive from the task queue", "[topology]") {
    topology t{"tareas", "classic"};
    CHECK(t.dead_queue() == "tareas.dead");
}

TEST_CASE("the retry delay grows by the factor up to the cap", "[topology]") {
    backoff_policy p{1000ms, 4.0, 600000ms, 0.2};
    CHECK(base_delay(p, 1) == 1000ms);
    CHECK(base_delay(p, 2) == 4000ms);
    CHECK(base_delay(p, 3) == 16000ms);
    CHECK(base_delay(p, 4) == 64000ms);
    CHECK(base_delay(p, 5) == 256000ms);
    CHECK(base_delay(p, 6) == 600000ms);
    CHECK(base_delay(p, 1000) == 600000ms);
}

TEST_CASE("fractional seconds give exact millisecond delays", "[topology]") {
    backoff_policy p{200ms, 4.0, 600000ms, 0.0};
    CHECK(base_delay(p, 1) == 200ms);
    CHECK(base_delay(p, 2) == 800ms);
    CHECK(retry_delay(p, 1, 0.9) == 200ms);
}

TEST_CASE("the jittered delay stays within base * (1 +- jitter)", "[topology]") {
    backoff_policy p{1000ms, 2.0, 10000ms, 0.2};
    for (int attempt = 1; attempt <= 8; ++attempt) {
        auto base = base_delay(p, attempt);
        CHECK(retry_delay(p, attempt, 0.0) == base * 8 / 10);
        CHECK(retry_delay(p, attempt, 0.5) == base);
        auto high = retry_delay(p, attempt, 0.999999);
        CHECK(high <= base * 12 / 10);
        CHECK(high >= base * 119 / 100);
    }
}

