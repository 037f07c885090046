// The delay ladder against a real RabbitMQ (decision 0012): a delayed task reaches the task
// queue on time, through exactly the levels of its delay's set bits, and a long delay never
// holds a short one back (broker_harness.hpp says when these run).
#include <catch2/catch.hpp>

#include "broker_harness.hpp"

using namespace pfo3_broker_test;

namespace {

constexpr auto unit = 10ms;
constexpr int levels_used = 12;

// Deletes the ladder's queues and exchanges of a test's queue.
struct ladder_cleanup {
    amqp_url url;
    topology topo;
    ~ladder_cleanup() {
        try {
            admin a(url);
            for (int l = 0; l < levels_used; ++l) {
                a.remove(topo.delay_level(l));
                a.remove_exchange(topo.delay_level(l));
            }
            a.remove_exchange(topo.delay_due());
        } catch (...) {
        }
    }
};

outgoing_message delayed(const std::string& queue, std::size_t i, std::int64_t units) {
    outgoing_message m = message(queue, i);
    m.delay_units = units;
    return m;
}

// Polls `q` until a message is there; its x-death queues, or nullopt after `limit`.
std::optional<std::map<std::string, long>> wait_message(admin& a, const std::string& q, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (auto d = a.get_deaths(q)) return d;
        std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
}

// A publisher with a 10 ms ladder on a queue of its own, connected; cleans up the queue and
// the ladder when it ends.
struct ladder_fixture {
    amqp_url url;
    publisher_options o;
    queue_cleanup cleanup;
    ladder_cleanup ladder;
    publisher pub;
    ladder_fixture(const amqp_url& u, const std::string& what, const std::string& queue_type = "classic")
        : url(u), o(with_unit(pub_options(u, unique_name(what)), queue_type)), cleanup{u, {o.topo.queue}},
          ladder{u, o.topo}, pub(o) {
        pub.start();
        REQUIRE(pub.wait_connected(10s));
    }
    static publisher_options with_unit(publisher_options p, const std::string& queue_type) {
        p.topo.delay_unit = unit;
        p.topo.queue_type = queue_type;
        return p;
    }
};

}  // namespace

TEST_CASE("a delayed task arrives on time through exactly the levels of its set bits", "[broker][delay]") {
    BROKER_OR_SKIP(url);
    // Quorum levels (at-least-once dead-lettering, RabbitMQ >= 3.10 expires by TTL) hop the same way.
    const std::string queue_type = GENERATE(as<std::string>{}, "classic", "quorum");
    CAPTURE(queue_type);
    ladder_fixture f(url, "ladder", queue_type);
    const std::string& q = f.o.topo.queue;
    const topology& topo = f.o.topo;

    // 2^9 + 2^6 + 2^3 + 1 units = 5.85 s: four hops, at levels 9, 6, 3 and 0.
    const std::int64_t units = (1 << 9) + (1 << 6) + (1 << 3) + 1;
    tracker t;
    const auto sent = std::chrono::steady_clock::now();
    f.pub.publish(delayed(q, 0, units), t.slot(0));
    REQUIRE(t.wait_all(1, 10s));
    REQUIRE(t.outcome(0) == publish_outcome::confirmed);

    admin a(url);
    const auto deaths = wait_message(a, q, 60s);
    const auto took = std::chrono::steady_clock::now() - sent;
    REQUIRE(deaths);
    const std::map<std::string, long> hops{
        {topo.delay_level(9), 1}, {topo.delay_level(6), 1}, {topo.delay_level(3), 1}, {topo.delay_level(0), 1}};
    CHECK(*deaths == hops);
    CHECK(took >= unit * units);
    CHECK(took < unit * units + 3s);  // a loaded 2-core machine; the ladder itself adds ms
}

TEST_CASE("a long delay submitted first does not hold a short one back", "[broker][delay]") {
    BROKER_OR_SKIP(url);
    ladder_fixture f(url, "ladder-order");
    const std::string& q = f.o.topo.queue;

    // 2047 units (20.47 s, every level 0..10) first, then 65 units (0.65 s, levels 6 and 0):
    // they share levels 6 and 0, and the short one must not wait behind the long one there.
    tracker t;
    const auto sent = std::chrono::steady_clock::now();
    f.pub.publish(delayed(q, 0, 2047), t.slot(0));
    f.pub.publish(delayed(q, 1, 65), t.slot(1));
    REQUIRE(t.wait_all(2, 10s));
    REQUIRE(t.count_of(publish_outcome::confirmed) == 2);

    admin a(url);
    const auto first = wait_message(a, q, 15s);
    const auto took = std::chrono::steady_clock::now() - sent;
    REQUIRE(first);
    CHECK(first->size() == 2);  // the short one: levels 6 and 0
    CHECK(took < 650ms + 3s);
    CHECK(a.count(q) == 0);  // the long one still waits
}
