// The pieces of the one AMQP connection type that need no broker: the properties of a task
// message (what serve, the worker's republisher, `pfo3 dead requeue` and the broker probe all
// publish) and which publishes a confirm settles. The broker tests cover the rest.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "amqp_connection.hpp"

using pfo3::queue::detail::confirm;
using pfo3::queue::detail::task_properties;
using pfo3::queue::detail::text;

TEST_CASE("a task message is JSON, persistent, with its id and timestamp", "[amqp_connection]") {
    const std::string id = "0190b3c4-0000-7000-8000-000000000001";
    const task_properties props(id, "", 1700000000);
    const auto& p = props.get();
    CHECK(p._flags == (AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                       AMQP_BASIC_TIMESTAMP_FLAG));
    CHECK(text(p.content_type) == "application/json");
    CHECK(p.delivery_mode == 2);
    CHECK(text(p.message_id) == id);
    CHECK(p.timestamp == 1700000000u);
}

TEST_CASE("a task message carries its type and TTL only when it has them", "[amqp_connection]") {
    const std::string id = "t-1", type = "echo";
    const task_properties with(id, type, 5, 60000);
    CHECK((with.get()._flags & AMQP_BASIC_TYPE_FLAG));
    CHECK(text(with.get().type) == "echo");
    CHECK((with.get()._flags & AMQP_BASIC_EXPIRATION_FLAG));
    CHECK(text(with.get().expiration) == "60000");

    // A TTL of 0 is a TTL (expire unless a consumer takes it at once), not "none".
    const task_properties zero(id, type, 5, 0);
    CHECK(text(zero.get().expiration) == "0");
    const task_properties big(id, type, 5, INT64_MAX);
    CHECK(text(big.get().expiration) == "9223372036854775807");

    const task_properties without(id, "", -7);
    CHECK_FALSE((without.get()._flags & AMQP_BASIC_TYPE_FLAG));
    CHECK_FALSE((without.get()._flags & AMQP_BASIC_EXPIRATION_FLAG));
    CHECK(without.get().timestamp == 0u);  // before the epoch is not a time AMQP can carry
}

TEST_CASE("a task message's short strings are cut to what AMQP carries", "[amqp_connection]") {
    const std::string id = "t-2", type(300, 't');
    const task_properties props(id, type, 1);
    CHECK(props.get().type.len == 255);
    CHECK(text(props.get().message_id) == "t-2");
}

TEST_CASE("a confirm settles its own tag, or every tag up to it with multiple", "[amqp_connection]") {
    confirm single;
    single.tag = 5;
    CHECK(single.covers(5));
    CHECK_FALSE(single.covers(4));
    CHECK_FALSE(single.covers(6));

    confirm multiple;
    multiple.tag = 5;
    multiple.multiple = true;
    CHECK(multiple.covers(1));
    CHECK(multiple.covers(5));
    CHECK_FALSE(multiple.covers(6));

    // multiple with tag 0: every publish so far (AMQP 0-9-1, basic.ack).
    confirm all;
    all.multiple = true;
    CHECK(all.covers(1));
    CHECK(all.covers(1000000));
}

TEST_CASE("basic.qos limits each consumer, never the channel (quorum queues refuse global QoS)",
          "[amqp_connection]") {
    for (std::uint16_t prefetch : {1, 10, 65535}) {
        const auto q = pfo3::queue::detail::qos_request(prefetch);
        CHECK(q.prefetch_count == prefetch);
        CHECK(q.prefetch_size == 0u);
        CHECK(q.global == 0);
    }
}

TEST_CASE("x-delivery-count is read whatever integer type the broker chose", "[amqp_connection]") {
    using pfo3::queue::detail::delivery_count;
    amqp_table_entry_t e[2]{};
    e[0].key = amqp_cstring_bytes("x-first-death-reason");
    e[0].value.kind = AMQP_FIELD_KIND_UTF8;
    e[0].value.value.bytes = amqp_cstring_bytes("rejected");
    e[1].key = amqp_cstring_bytes("x-delivery-count");
    e[1].value.kind = AMQP_FIELD_KIND_I64;
    e[1].value.value.i64 = 3;
    CHECK(delivery_count(amqp_table_t{2, e}) == 3);
    e[1].value.kind = AMQP_FIELD_KIND_I32;
    e[1].value.value.i32 = 4;
    CHECK(delivery_count(amqp_table_t{2, e}) == 4);
    CHECK(delivery_count(amqp_table_t{1, e}) == -1);  // absent: a first delivery, or a classic queue
    CHECK(delivery_count(amqp_empty_table) == -1);
}
