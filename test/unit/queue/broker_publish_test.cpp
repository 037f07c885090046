// The publisher against a real RabbitMQ: confirms, unroutable messages, the unconfirmed
// bound, and stop() with publishes in flight (broker_harness.hpp says when these run).
#include <catch2/catch.hpp>

#include "broker_harness.hpp"

using namespace pfo3_broker_test;

TEST_CASE("2000 publishes are each confirmed once and consumed back with prefetch and acks", "[broker]") {
    BROKER_OR_SKIP(url);
    const auto q = unique_name("bulk");
    queue_cleanup cleanup{url, {q}};
    constexpr std::size_t n = 2000;

    tracker t;
    {
        publisher pub(pub_options(url, q));
        pub.start();
        REQUIRE(pub.wait_connected(10s));
        for (std::size_t i = 0; i < n; ++i) pub.publish(message(q, i), t.slot(i));
        REQUIRE(t.wait_all(n, 30s));
        CHECK(t.count_of(publish_outcome::confirmed) == n);
        CHECK(t.each_exactly_once());
        CHECK(pub.outstanding() == 0);
        pub.stop();
    }
    CHECK(t.each_exactly_once());  // stop() completed nothing twice

    inbox box;
    consumer con(con_options(url, q, 50), box.handler(), box.state());
    con.start();
    std::set<std::string> ids;
    delivery d;
    while (ids.size() < n && box.pop(d, 20s)) {
        CHECK(d.content_type == "application/json");
        CHECK(d.type == "echo");
        CHECK(d.body.find("\"id\":\"" + d.message_id + "\"") != std::string::npos);
        CHECK_FALSE(d.redelivered);
        ids.insert(d.message_id);
        box.settled();
        con.ack(d.generation, d.tag);
    }
    CHECK(ids.size() == n);
    CHECK(box.max_in_hand() <= 50);
    con.stop();
    CHECK(box.states() == std::vector<bool>{true, false});
    admin a(url);
    CHECK(a.count(q) == 0);  // every ack was carried out before stop() returned
    CHECK(a.count(q + ".dead") == 0);
}

TEST_CASE("a publish no queue takes is unroutable, its neighbours are confirmed", "[broker]") {
    BROKER_OR_SKIP(url);
    const auto q = unique_name("route");
    queue_cleanup cleanup{url, {q}};
    publisher pub(pub_options(url, q));
    pub.start();
    REQUIRE(pub.wait_connected(10s));
    tracker t;
    pub.publish(message(q, 0), t.slot(0));
    pub.publish(message(unique_name("nowhere"), 1), t.slot(1));
    pub.publish(message(q, 2), t.slot(2));
    REQUIRE(t.wait_all(3, 10s));
    CHECK(t.outcome(0) == publish_outcome::confirmed);
    CHECK(t.outcome(1) == publish_outcome::unroutable);
    CHECK(t.outcome(2) == publish_outcome::confirmed);
    CHECK(t.each_exactly_once());
    pub.stop();
    admin a(url);
    CHECK(a.count(q) == 2);
}

TEST_CASE("publishes past max_unconfirmed are overloaded at once", "[broker]") {
    BROKER_OR_SKIP(url);
    const auto q = unique_name("bound");
    queue_cleanup cleanup{url, {q}};
    auto opts = pub_options(url, q);
    opts.max_unconfirmed = 10;
    publisher pub(opts);
    pub.start();
    REQUIRE(pub.wait_connected(10s));
    tracker t;
    constexpr std::size_t n = 1000;
    std::size_t max_seen = 0;
    for (std::size_t i = 0; i < n; ++i) {
        pub.publish(message(q, i), t.slot(i));
        max_seen = std::max(max_seen, pub.outstanding());
    }
    REQUIRE(t.wait_all(n, 30s));
    CHECK(t.each_exactly_once());
    CHECK(max_seen <= 10);
    auto confirmed = t.count_of(publish_outcome::confirmed);
    auto overloaded = t.count_of(publish_outcome::overloaded);
    CHECK(confirmed >= 1);
    CHECK(overloaded >= 1);
    CHECK(confirmed + overloaded == n);
    pub.stop();
    admin a(url);
    CHECK(a.count(q) == static_cast<long>(confirmed));
}

TEST_CASE("stop() waits for confirms within the grace period and completes everything once", "[broker]") {
    BROKER_OR_SKIP(url);
    const auto q = unique_name("stop");
    queue_cleanup cleanup{url, {q}};

    SECTION("with a grace period every publish in flight is confirmed") {
        publisher pub(pub_options(url, q));
        pub.start();
        REQUIRE(pub.wait_connected(10s));
        tracker t;
        for (std::size_t i = 0; i < 500; ++i) pub.publish(message(q, i), t.slot(i));
        pub.stop(10s);
        CHECK(t.wait_all(500, 0s));  // stop() returned: every completion has run
        CHECK(t.count_of(publish_outcome::confirmed) == 500);
        CHECK(t.each_exactly_once());
        bool after = false;
        pub.publish(message(q, 9999), [&](publish_outcome o) { after = o == publish_outcome::unavailable; });
        CHECK(after);  // inline rejection after stop
        CHECK_FALSE(pub.connected());
    }
    SECTION("with no grace period every publish still completes exactly once") {
        publisher pub(pub_options(url, q));
        pub.start();
        REQUIRE(pub.wait_connected(10s));
        tracker t;
        for (std::size_t i = 0; i < 500; ++i) pub.publish(message(q, i), t.slot(i));
        pub.stop(0ms);
        CHECK(t.wait_all(500, 0s));
        CHECK(t.each_exactly_once());
        CHECK(t.count_of(publish_outcome::confirmed) + t.count_of(publish_outcome::unavailable) == 500);
        CHECK(pub.outstanding() == 0);
    }
}
