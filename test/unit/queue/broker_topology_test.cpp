// Declaring queues and connecting against a real RabbitMQ: compatibility with the teaching
// system, refused declarations and credentials, quorum queues (broker_harness.hpp says when
// these run).
#include <catch2/catch.hpp>

#include "broker_harness.hpp"

using namespace pfo3_broker_test;

TEST_CASE("the classic queue is compatible with the teaching system's declaration", "[broker]") {
    BROKER_OR_SKIP(url);
    const auto q = unique_name("compat");
    queue_cleanup cleanup{url, {q}};
    {
        admin a(url);
        a.declare_plain(q);  // queue_declare(queue=q, durable=True), as servidor_distribuidor.py
    }
    publisher pub(pub_options(url, q));
    pub.start();
    CHECK(pub.wait_connected(10s));
}

TEST_CASE("a queue declared with other arguments is refused and reported, not connected", "[broker]") {
    BROKER_OR_SKIP(url);
    const auto q = unique_name("clash");
    queue_cleanup cleanup{url, {q}};
    {
        admin a(url);
        a.declare_with_max_length(q);
    }
    publisher pub(pub_options(url, q));
    pub.start();
    CHECK_FALSE(pub.wait_connected(1500ms));  // 406 PRECONDITION_FAILED on every attempt
    bool unavailable = false;
    pub.publish(message(q, 0), [&](publish_outcome o) { unavailable = o == publish_outcome::unavailable; });
    CHECK(unavailable);
}

TEST_CASE("wrong credentials never connect and publishes are unavailable", "[broker]") {
    BROKER_OR_SKIP(url);
    auto bad = url;
    bad.password = "definitely-wrong";
    publisher pub(pub_options(bad, unique_name("auth")));
    pub.start();
    CHECK_FALSE(pub.wait_connected(1500ms));
    bool unavailable = false;
    pub.publish(message("x", 0), [&](publish_outcome o) { unavailable = o == publish_outcome::unavailable; });
    CHECK(unavailable);
    pub.stop();
}

TEST_CASE("a quorum queue round trip works", "[broker]") {
    BROKER_OR_SKIP(url);
    const auto q = unique_name("quorum");
    queue_cleanup cleanup{url, {q}};
    auto po = pub_options(url, q);
    po.topo.queue_type = "quorum";
    publisher pub(po);
    pub.start();
    REQUIRE(pub.wait_connected(10s));
    tracker t;
    pub.publish(message(q, 7), t.slot(0));
    REQUIRE(t.wait_all(1, 10s));
    CHECK(t.outcome(0) == publish_outcome::confirmed);
    auto co = con_options(url, q, 1);
    co.topo.queue_type = "quorum";
    inbox box;
    consumer con(co, box.handler());
    con.start();
    delivery d;
    REQUIRE(box.pop(d, 10s));
    CHECK(d.message_id == "id-7");
    con.ack(d.generation, d.tag);
    con.stop();
}
