#include <catch2/catch.hpp>

#include <chrono>
#include <set>

#include "pfo3/queue/topology.hpp"

using namespace pfo3::queue;
using namespace std::chrono_literals;
using pfo3::backoff_policy;

TEST_CASE("queue names derive from the task queue", "[topology]") {
    topology t{"tareas", "classic"};
    CHECK(t.dead_queue() == "tareas.dead");
    CHECK(t.retry_queue(1000ms) == "tareas.retry.1000");
    CHECK(t.retry_queue(200ms) == "tareas.retry.200");
}

TEST_CASE("the retry base delay grows by the factor up to the cap, without jitter", "[topology]") {
    backoff_policy p{1000ms, 4.0, 600000ms, 0.2};
    CHECK(retry_base_delay(p, 1) == 1000ms);
    CHECK(retry_base_delay(p, 2) == 4000ms);
    CHECK(retry_base_delay(p, 3) == 16000ms);
    CHECK(retry_base_delay(p, 4) == 64000ms);
    CHECK(retry_base_delay(p, 5) == 256000ms);
    CHECK(retry_base_delay(p, 6) == 600000ms);
    CHECK(retry_base_delay(p, 1000) == 600000ms);
}

TEST_CASE("fractional seconds give exact millisecond delays", "[topology]") {
    backoff_policy p{200ms, 4.0, 600000ms, 0.0};
    CHECK(retry_base_delay(p, 1) == 200ms);
    CHECK(retry_base_delay(p, 2) == 800ms);
    CHECK(retry_delay(p, 1, 0.9) == 200ms);
}

TEST_CASE("the jittered delay stays within base * (1 +- jitter)", "[topology]") {
    backoff_policy p{1000ms, 2.0, 10000ms, 0.2};
    for (int attempt = 1; attempt <= 8; ++attempt) {
        auto base = retry_base_delay(p, attempt);
        CHECK(retry_delay(p, attempt, 0.0) == base * 8 / 10);
        CHECK(retry_delay(p, attempt, 0.5) == base);
        auto high = retry_delay(p, attempt, 0.999999);
        CHECK(high <= base * 12 / 10);
        CHECK(high >= base * 119 / 100);
    }
}

TEST_CASE("the number of retry queues is bounded by the schedule, not by the attempts", "[topology]") {
    backoff_policy p{1000ms, 4.0, 600000ms, 0.2};
    topology t;
    std::set<std::string> names;
    for (int attempt = 1; attempt <= 1000; ++attempt) names.insert(t.retry_queue(retry_base_delay(p, attempt)));
    // 1, 4, 16, 64, 256 s and the 600 s cap: log4(600) + 1 rounded up.
    CHECK(names.size() == 6);
}

TEST_CASE("an unused retry queue expires an hour after its longest wait", "[topology]") {
    CHECK(retry_queue_expiry(1000ms) == 3602000ms);
    CHECK(retry_queue_expiry(600000ms) == std::chrono::milliseconds(2 * 600000 + 3600000));
}
