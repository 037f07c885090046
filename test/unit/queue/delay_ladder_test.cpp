// The delay ladder's arithmetic (decision 0012): units, levels, routing keys and bindings.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <chrono>

#include "pfo3/queue/topology.hpp"

using namespace pfo3::queue;
using namespace std::chrono_literals;

TEST_CASE("a delay is rounded up to whole units, never down", "[delay]") {
    CHECK(delay_units(0ms, 1000ms) == 0);
    CHECK(delay_units(-5ms, 1000ms) == 0);
    CHECK(delay_units(1ms, 1000ms) == 1);
    CHECK(delay_units(1000ms, 1000ms) == 1);
    CHECK(delay_units(1001ms, 1000ms) == 2);
    CHECK(delay_units(std::chrono::milliseconds(30LL * 86'400'000), 10ms) == 259'200'000);
}

TEST_CASE("the routing key has one word per level, the highest first", "[delay]") {
    CHECK(delay_levels(0) == 0);
    CHECK(delay_levels(1) == 1);
    CHECK(delay_levels(5) == 3);
    CHECK(delay_routing_key(1) == "1");
    CHECK(delay_routing_key(5) == "1.0.1");
    CHECK(delay_routing_key(8) == "1.0.0.0");
    // 30 days at 10 ms: 28 levels, a hop at each set bit only.
    const std::int64_t units = 259'200'000;
    const std::string key = delay_routing_key(units);
    CHECK(delay_levels(units) == 28);
    CHECK(key.size() == 28 * 2 - 1);
    CHECK(std::count(key.begin(), key.end(), '1') == std::popcount(static_cast<std::uint64_t>(units)));
}

TEST_CASE("each level's bindings look at its own word, counted from the right", "[delay]") {
    CHECK(delay_binding(0, true) == "#.1");
    CHECK(delay_binding(0, false) == "#.0");
    CHECK(delay_binding(2, true) == "#.1.*.*");
    topology t;
    t.queue = "jobs";
    t.delay_unit = 10ms;
    CHECK(t.delay_ttl(0) == 10ms);
    CHECK(t.delay_ttl(27) == 10ms * (1LL << 27));
    CHECK(t.delay_level(3) == "jobs.delay.80");
    CHECK(t.delay_due() == "jobs.delay.due");
    // A quorum ladder has names of its own (a classic one left behind still drains); `due` is shared.
    t.queue_type = "quorum";
    CHECK(t.delay_level(3) == "jobs.delay.quorum.80");
    CHECK(t.delay_due() == "jobs.delay.due");
}
