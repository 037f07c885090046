// A broker outage under traffic, on a private node the test may stop:
//   PFO3_TEST_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5791/%2f
//   PFO3_TEST_RABBITMQ_CTL="test/services/rabbitmq.sh ctl DIR"
// (broker_harness.hpp says when the broker tests run).
#include <catch2/catch.hpp>

#include "broker_harness.hpp"

using namespace pfo3_broker_test;

TEST_CASE("a broker outage under traffic: unavailable meanwhile, nothing confirmed is lost, both recover",
          "[broker][outage]") {
    const char* ctl = env("PFO3_TEST_RABBITMQ_CTL");
    const char* url_text = env("PFO3_TEST_RABBITMQ_URL");
    if (!ctl || !url_text) {
        WARN("PFO3_TEST_RABBITMQ_CTL / PFO3_TEST_RABBITMQ_URL not set: outage test skipped");
        return;
    }
    const auto url = amqp_url::parse(url_text);
    const auto q = unique_name("outage");
    queue_cleanup cleanup{url, {q}};
    auto rabbitmqctl = [&](const char* what) {
        std::string cmd = std::string(ctl) + " " + what + " >/dev/null";
        REQUIRE(std::system(cmd.c_str()) == 0);
    };
    struct restart_guard {  // never leave the node stopped, even if a check fails
        std::function<void()> f;
        bool armed = false;
        ~restart_guard() {
            if (armed) f();
        }
    } guard{[&] { (void)std::system((std::string(ctl) + " start_app >/dev/null").c_str()); }};

    // The consumer acks everything at once and records what it saw.
    std::mutex m;
    std::condition_variable cv;
    std::set<std::string> got;
    std::vector<bool> states;
    std::uint64_t max_generation = 0;
    std::unique_ptr<consumer> con;
    con = std::make_unique<consumer>(
        con_options(url, q, 100),
        [&](delivery d) {
            {
                std::lock_guard lk(m);
                got.insert(d.message_id);
                max_generation = std::max(max_generation, d.generation);
            }
            con->ack(d.generation, d.tag);
            cv.notify_all();
        },
        [&](bool c) {
            std::lock_guard lk(m);
            states.push_back(c);
            cv.notify_all();
        });
    auto wait_states = [&](std::size_t n, std::chrono::seconds limit) {
        std::unique_lock lk(m);
        return cv.wait_for(lk, limit, [&] { return states.size() >= n; });
    };

    publisher pub(pub_options(url, q));
    pub.start();
    REQUIRE(pub.wait_connected(20s));
    con->start();
    REQUIRE(wait_states(1, 20s));

    tracker t;
    std::atomic<bool> traffic_on{true};
    std::size_t sent = 0;
    std::thread traffic([&] {
        for (; traffic_on.load(); ++sent) {
            pub.publish(message(q, sent), t.slot(sent));
            std::this_thread::sleep_for(2ms);  // pacing the load, not synchronisation
        }
    });
    struct join_guard {
        std::atomic<bool>& on;
        std::thread& th;
        ~join_guard() {
            on = false;
            if (th.joinable()) th.join();
        }
    } joiner{traffic_on, traffic};

    REQUIRE(t.wait_all(50, 20s));
    guard.armed = true;
    rabbitmqctl("stop_app");
    auto until = std::chrono::steady_clock::now() + 30s;
    while (pub.connected() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    REQUIRE_FALSE(pub.connected());
    tracker single;
    pub.publish(message(q, 999999), single.slot(0));
    REQUIRE(single.wait_all(1, 1s));  // inline: no waiting for a broker that is gone
    CHECK(single.outcome(0) == publish_outcome::unavailable);
    REQUIRE(wait_states(2, 30s));

    rabbitmqctl("start_app");
    guard.armed = false;
    REQUIRE(pub.wait_connected(60s));
    REQUIRE(wait_states(3, 60s));
    CHECK(states == std::vector<bool>{true, false, true});
    const auto done_at_reconnect = t.done();
    REQUIRE(t.wait_all(done_at_reconnect + 50, 20s));

    traffic_on = false;
    traffic.join();
    REQUIRE(t.wait_all(sent, 30s));
    CHECK(t.each_exactly_once());
    const auto confirmed = t.indices_with(publish_outcome::confirmed);
    const auto unavailable = t.indices_with(publish_outcome::unavailable);
    CHECK(confirmed.size() + unavailable.size() == sent);
    CHECK(unavailable.size() >= 1);  // the outage was visible to publishers
    CHECK(pub.outstanding() == 0);

    // Everything the broker confirmed reaches the consumer (at least once).
    std::unique_lock lk(m);
    bool all = cv.wait_for(lk, 30s, [&] {
        for (auto i : confirmed)
            if (!got.count("id-" + std::to_string(i))) return false;
        return true;
    });
    CHECK(all);
    CHECK(max_generation >= 2);
    lk.unlock();
    con->stop();
    pub.stop();
}
