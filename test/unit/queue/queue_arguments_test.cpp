// The arguments pfo3 declares its queues with (queue_arguments.hpp): none for classic (the
// teaching system's declaration), the replicated, bounded, at-least-once set for quorum.
#include <catch2/catch.hpp>

#include <chrono>

#include "queue_arguments.hpp"

using namespace pfo3::queue;
using namespace pfo3::queue::detail;

TEST_CASE("classic queues are declared without arguments", "[queue_arguments]") {
    topology t;
    CHECK(task_queue_arguments(t).empty());
    CHECK(dead_queue_arguments(t).empty());
}

TEST_CASE("quorum queues: replicas, delivery limit, at-least-once dead-lettering, reject-publish when full",
          "[queue_arguments]") {
    topology t;
    t.queue = "jobs";
    t.queue_type = "quorum";
    t.quorum_group_size = 3;
    t.delivery_limit = 4;
    t.max_length = 500;
    CHECK(describe(task_queue_arguments(t)) ==
          "x-queue-type=quorum, x-quorum-initial-group-size=3, x-max-length=500, x-overflow=reject-publish, "
          "x-delivery-limit=4, x-dead-letter-exchange=\"\", x-dead-letter-routing-key=jobs.dead, "
          "x-dead-letter-strategy=at-least-once");
    CHECK(describe(dead_queue_arguments(t)) ==
          "x-queue-type=quorum, x-quorum-initial-group-size=3, x-max-length=500, x-overflow=reject-publish");
}

TEST_CASE("an argument table carries every argument with its AMQP type", "[queue_arguments]") {
    topology t;
    t.queue_type = "quorum";
    const auto args = task_queue_arguments(t);
    argument_table table(args);
    const amqp_table_t raw = table.get();
    REQUIRE(raw.num_entries == static_cast<int>(args.size()));
    CHECK(raw.entries[0].value.kind == AMQP_FIELD_KIND_UTF8);
    CHECK(raw.entries[1].value.kind == AMQP_FIELD_KIND_I64);
    CHECK(raw.entries[1].value.value.i64 == 3);
    CHECK(argument_table(queue_arguments{}).get().num_entries == 0);
}

TEST_CASE("ladder levels: classic with a TTL, or quorum with at-least-once dead-lettering and reject-publish",
          "[queue_arguments][delay]") {
    topology t;
    t.queue = "jobs";
    t.delay_unit = std::chrono::milliseconds(10);
    CHECK(describe(delay_queue_arguments(t, 3)) ==
          "x-queue-type=classic, x-dead-letter-exchange=jobs.delay.40, x-message-ttl=80");
    t.queue_type = "quorum";
    t.max_length = 500;
    // No x-dead-letter-routing-key: the routing key (the delay's bits) must survive the hop.
    CHECK(describe(delay_queue_arguments(t, 0)) ==
          "x-queue-type=quorum, x-quorum-initial-group-size=3, x-max-length=500, x-overflow=reject-publish, "
          "x-dead-letter-exchange=jobs.delay.due, x-dead-letter-strategy=at-least-once, x-message-ttl=10");
}
