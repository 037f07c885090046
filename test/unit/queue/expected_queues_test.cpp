// What `pfo3 admin queues` expects on the broker (expected_queues.hpp).
#include <catch2/catch.hpp>

#include "pfo3/queue/expected_queues.hpp"

using pfo3::queue::expected_queue_named;
using pfo3::queue::expected_queues;
using pfo3::queue::topology;

namespace {

std::string arg(const pfo3::queue::expected_queue& q, const std::string& key) {
    for (const auto& [k, v] : q.arguments)
        if (k == key) return v;
    return "(none)";
}

}  // namespace

TEST_CASE("a classic topology expects two queues without arguments", "[expected_queues]") {
    const auto qs = expected_queues(topology{});
    REQUIRE(qs.size() == 2);
    CHECK(qs[0].name == "tareas");
    CHECK(qs[0].role == "task");
    CHECK(qs[0].type == "classic");
    CHECK(qs[0].arguments.empty());
    CHECK(qs[1].name == "tareas.dead");
    CHECK(qs[1].arguments.empty());
}

TEST_CASE("a quorum topology expects the quorum arguments as text", "[expected_queues]") {
    topology t;
    t.queue = "jobs";
    t.queue_type = "quorum";
    t.delivery_limit = 4;
    const auto qs = expected_queues(t);
    REQUIRE(qs.size() == 2);
    CHECK(qs[0].type == "quorum");
    CHECK(arg(qs[0], "x-queue-type") == "quorum");
    CHECK(arg(qs[0], "x-delivery-limit") == "4");
    CHECK(arg(qs[0], "x-dead-letter-routing-key") == "jobs.dead");
    CHECK(arg(qs[0], "x-dead-letter-exchange").empty());
    CHECK(arg(qs[1], "x-delivery-limit") == "(none)");
    CHECK(arg(qs[1], "x-overflow") == "reject-publish");
}

TEST_CASE("queues declared on use are recognised by name", "[expected_queues]") {
    topology t;
    t.queue = "jobs";
    t.queue_type = "quorum";
    auto level2 = expected_queue_named(t, "jobs.delay.quorum.4000");
    REQUIRE(level2);
    CHECK(level2->role == "delay");
    CHECK(level2->type == "quorum");
    CHECK(arg(*level2, "x-message-ttl") == "4000");
    CHECK(arg(*level2, "x-dead-letter-exchange") == "jobs.delay.quorum.2000");
    CHECK(arg(*level2, "x-dead-letter-strategy") == "at-least-once");
    auto level0 = expected_queue_named(t, "jobs.delay.quorum.1000");
    REQUIRE(level0);
    CHECK(arg(*level0, "x-dead-letter-exchange") == "jobs.delay.due");
    // A classic ladder a classic configuration left behind is not this configuration's.
    CHECK_FALSE(expected_queue_named(t, "jobs.delay.4000"));
    t.queue_type = "classic";
    auto classic = expected_queue_named(t, "jobs.delay.4000");
    REQUIRE(classic);
    CHECK(classic->type == "classic");
    t.queue_type = "quorum";
    CHECK_FALSE(expected_queue_named(t, "jobs.retry.500"));  // no retry queues since the ladder (decision 0012)
    CHECK(expected_queue_named(t, "jobs.dead")->role == "dead");
    CHECK_FALSE(expected_queue_named(t, "jobs.delay.3000"));  // not a power of two of the unit
    CHECK_FALSE(expected_queue_named(t, "jobs.delay.due"));
    CHECK_FALSE(expected_queue_named(t, "jobs.delay.9223372036854775807"));
    CHECK_FALSE(expected_queue_named(t, "jobs.other"));
    CHECK_FALSE(expected_queue_named(t, "jobsx"));
}
