// The consumer against a real RabbitMQ: acks across reconnects (generations) and a queue
// that is empty when consuming starts (broker_harness.hpp says when these run).
#include <catch2/catch.hpp>

#include "broker_harness.hpp"

using namespace pfo3_broker_test;

TEST_CASE("an ack from another generation is ignored and the message is redelivered", "[broker]") {
    BROKER_OR_SKIP(url);
    const auto q = unique_name("stale");
    queue_cleanup cleanup{url, {q}};
    {
        publisher pub(pub_options(url, q));
        pub.start();
        REQUIRE(pub.wait_connected(10s));
        tracker t;
        pub.publish(message(q, 1), t.slot(0));
        REQUIRE(t.wait_all(1, 10s));
        REQUIRE(t.outcome(0) == publish_outcome::confirmed);
    }
    {
        inbox box;
        consumer con(con_options(url, q, 1), box.handler());
        con.start();
        delivery d;
        REQUIRE(box.pop(d, 10s));
        CHECK(d.message_id == "id-1");
        CHECK_FALSE(d.redelivered);
        con.ack(d.generation + 1, d.tag);  // a generation that is not the current one
        con.stop();                        // carries out (here: drops) the ack, closes
    }
    {
        inbox box;
        consumer con(con_options(url, q, 1), box.handler());
        con.start();
        delivery d;
        REQUIRE(box.pop(d, 10s));  // still there: the stale ack was not sent
        CHECK(d.message_id == "id-1");
        CHECK(d.redelivered);
        con.nack(d.generation, d.tag, true);  // back to the queue once more
        REQUIRE(box.pop(d, 10s));
        CHECK(d.redelivered);
        con.ack(d.generation, d.tag);
        con.stop();
    }
    admin a(url);
    CHECK(a.count(q) == 0);
}

TEST_CASE("a consumer started on an empty queue receives what is published later", "[broker]") {
    BROKER_OR_SKIP(url);
    const auto q = unique_name("late");
    queue_cleanup cleanup{url, {q}};
    inbox box;
    consumer con(con_options(url, q, 5), box.handler(), box.state());
    con.start();
    REQUIRE(box.wait_state(1, 10s));  // consuming: the queue exists now
    CHECK(box.states().front());

    publisher pub(pub_options(url, q));
    pub.start();
    REQUIRE(pub.wait_connected(10s));
    tracker t;
    for (std::size_t i = 0; i < 10; ++i) pub.publish(message(q, i), t.slot(i));
    REQUIRE(t.wait_all(10, 10s));
    std::set<std::string> ids;
    delivery d;
    while (ids.size() < 10 && box.pop(d, 10s)) {
        ids.insert(d.message_id);
        con.ack(d.generation, d.tag);
    }
    CHECK(ids.size() == 10);

    // After cancel() nothing new arrives, but acks still work.
    con.cancel();
    REQUIRE(box.wait_state(2, 10s));  // cancel-ok received: consuming stopped
    CHECK(box.states() == std::vector<bool>{true, false});
    pub.publish(message(q, 100), t.slot(10));
    REQUIRE(t.wait_all(11, 10s));
    CHECK_FALSE(box.pop(d, 1s));
    con.stop();
    pub.stop();
    admin a(url);
    CHECK(a.count(q) == 1);
}
