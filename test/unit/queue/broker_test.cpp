// Tests against a real RabbitMQ. They run only when PFO3_TEST_AMQP_URL names a broker, e.g.
//   PFO3_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f
// and otherwise pass with a warning. Every test uses queues of its own (random suffix) and
// deletes them afterwards. The outage test also needs a private node it may stop:
//   PFO3_TEST_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5791/%2f
//   PFO3_TEST_RABBITMQ_CTL="test/services/rabbitmq.sh ctl DIR"
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pfo3/queue/consumer.hpp"
#include "pfo3/queue/publisher.hpp"

using namespace pfo3::queue;
using namespace std::chrono_literals;

namespace {

const char* env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
}

std::string unique_name(const std::string& what) {
    std::random_device rd;
    std::uniform_int_distribution<unsigned long long> d;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016llx", d(rd));
    return "pfo3-test-" + what + "-" + buf;
}

// A plain rabbitmq-c connection for test set-up and clean-up (declare, count, delete).
class admin {
public:
    explicit admin(const amqp_url& u) : s_(amqp_new_connection()) {
        auto* sock = amqp_tcp_socket_new(s_);
        REQUIRE(sock);
        REQUIRE(amqp_socket_open(sock, u.host.c_str(), u.port) == AMQP_STATUS_OK);
        auto r = amqp_login(s_, u.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN,
                            u.user.c_str(), u.password.c_str());
        REQUIRE(r.reply_type == AMQP_RESPONSE_NORMAL);
        open_channel();
    }
    ~admin() {
        amqp_connection_close(s_, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(s_);
    }
    admin(const admin&) = delete;
    admin& operator=(const admin&) = delete;

    // Messages ready in the queue, or -1 if it does not exist.
    long count(const std::string& q) {
        auto* ok = amqp_queue_declare(s_, ch_, amqp_cstring_bytes(q.c_str()), 1, 0, 0, 0, amqp_empty_table);
        if (!ok) {
            open_channel();
            return -1;
        }
        return static_cast<long>(ok->message_count);
    }
    // Declares as the teaching system does: durable, no arguments.
    void declare_plain(const std::string& q) {
        REQUIRE(amqp_queue_declare(s_, ch_, amqp_cstring_bytes(q.c_str()), 0, 1, 0, 0, amqp_empty_table));
    }
    void declare_with_max_length(const std::string& q) {
        amqp_table_entry_t e{};
        e.key = amqp_cstring_bytes("x-max-length");
        e.value.kind = AMQP_FIELD_KIND_I32;
        e.value.value.i32 = 10;
        amqp_table_t args{1, &e};
        REQUIRE(amqp_queue_declare(s_, ch_, amqp_cstring_bytes(q.c_str()), 0, 1, 0, 0, args));
    }
    void remove(const std::string& q) {
        if (!amqp_queue_delete(s_, ch_, amqp_cstring_bytes(q.c_str()), 0, 0)) open_channel();
    }

private:
    void open_channel() {
        ++ch_;  // a channel closed by an error cannot be reused at once; take the next one
        REQUIRE(amqp_channel_open(s_, ch_));
    }
    amqp_connection_state_t s_;
    amqp_channel_t ch_ = 0;
};

// Deletes a test's queues (and their .dead companions) when it ends, pass or fail.
struct queue_cleanup {
    amqp_url url;
    std::vector<std::string> names;
    ~queue_cleanup() {
        try {
            admin a(url);
            for (const auto& n : names) {
                a.remove(n);
                a.remove(n + ".dead");
            }
        } catch (...) {
        }
    }
};

// Records every completion and checks that each publish completes exactly once.
class tracker {
public:
    publisher::completion slot(std::size_t i) {
        std::lock_guard lk(mu_);
        if (counts_.size() <= i) {
            counts_.resize(i + 1, 0);
            outcomes_.resize(i + 1, publish_outcome::unavailable);
        }
        return [this, i](publish_outcome o) {
            std::lock_guard lk(mu_);
            ++counts_[i];
            outcomes_[i] = o;
            ++done_;
            cv_.notify_all();
        };
    }
    bool wait_all(std::size_t n, std::chrono::seconds limit) {
        std::unique_lock lk(mu_);
        return cv_.wait_for(lk, limit, [&] { return done_ >= n; });
    }
    std::size_t count_of(publish_outcome o) {
        std::lock_guard lk(mu_);
        std::size_t n = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i)
            if (counts_[i] == 1 && outcomes_[i] == o) ++n;
        return n;
    }
    bool each_exactly_once() {
        std::lock_guard lk(mu_);
        for (int c : counts_)
            if (c != 1) return false;
        return true;
    }
    std::size_t done() {
        std::lock_guard lk(mu_);
        return done_;
    }
    std::vector<std::size_t> indices_with(publish_outcome o) {
        std::lock_guard lk(mu_);
        std::vector<std::size_t> out;
        for (std::size_t i = 0; i < counts_.size(); ++i)
            if (counts_[i] >= 1 && outcomes_[i] == o) out.push_back(i);
        return out;
    }
    publish_outcome outcome(std::size_t i) {
        std::lock_guard lk(mu_);
        return outcomes_.at(i);
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<int> counts_;
    std::vector<publish_outcome> outcomes_;
    std::size_t done_ = 0;
};

// Collects deliveries handed over by a consumer, for the test thread to act on.
class inbox {
public:
    consumer::delivery_handler handler() {
        return [this](delivery d) {
            std::lock_guard lk(mu_);
            ++in_hand_;
            max_in_hand_ = std::max(max_in_hand_, in_hand_);
            q_.push_back(std::move(d));
            cv_.notify_all();
        };
    }
    consumer::state_handler state() {
        return [this](bool c) {
            std::lock_guard lk(mu_);
            states_.push_back(c);
            cv_.notify_all();
        };
    }
    bool pop(delivery& out, std::chrono::milliseconds limit) {
        std::unique_lock lk(mu_);
        if (!cv_.wait_for(lk, limit, [&] { return !q_.empty(); })) return false;
        out = std::move(q_.front());
        q_.pop_front();
        return true;
    }
    void settled() {
        std::lock_guard lk(mu_);
        --in_hand_;
    }
    bool wait_state(std::size_t n, std::chrono::seconds limit) {
        std::unique_lock lk(mu_);
        return cv_.wait_for(lk, limit, [&] { return states_.size() >= n; });
    }
    std::vector<bool> states() {
        std::lock_guard lk(mu_);
        return states_;
    }
    int max_in_hand() {
        std::lock_guard lk(mu_);
        return max_in_hand_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<delivery> q_;
    std::vector<bool> states_;
    int in_hand_ = 0;
    int max_in_hand_ = 0;
};

outgoing_message message(const std::string& queue, std::size_t i) {
    outgoing_message m;
    m.routing_key = queue;
    m.message_id = "id-" + std::to_string(i);
    m.type = "echo";
    m.body = "{\"id\":\"id-" + std::to_string(i) + "\",\"type\":\"echo\",\"payload\":" + std::to_string(i) + "}";
    m.timestamp = 1700000000;
    return m;
}

publisher_options pub_options(const amqp_url& url, const std::string& queue) {
    publisher_options o;
    o.url = url;
    o.topo.queue = queue;
    o.connection_name = "pfo3-unit-test";
    return o;
}

consumer_options con_options(const amqp_url& url, const std::string& queue, std::uint16_t prefetch) {
    consumer_options o;
    o.url = url;
    o.topo.queue = queue;
    o.prefetch = prefetch;
    o.connection_name = "pfo3-unit-test";
    return o;
}

#define BROKER_OR_SKIP(url_var)                                                        \
    const char* url_text_ = env("PFO3_TEST_AMQP_URL");                                  \
    if (!url_text_) {                                                                   \
        WARN("PFO3_TEST_AMQP_URL is not set: broker test skipped");                     \
        return;                                                                         \
    }                                                                                   \
    const amqp_url url_var = amqp_url::parse(url_text_)

}  // namespace

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
