// The retry queues against a real RabbitMQ (skipped with a warning unless PFO3_TEST_AMQP_URL
// names a broker): a message published with retry_delay waits in `<queue>.retry.<ms>` for its
// own expiration and comes back to `<queue>`.
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <string>

#include "pfo3/queue/consumer.hpp"
#include "pfo3/queue/publisher.hpp"

using namespace pfo3::queue;
using namespace std::chrono_literals;

namespace {

std::string unique_queue() {
    std::random_device rd;
    return "pfo3-test-retry-" + std::to_string(std::uniform_int_distribution<unsigned long long>()(rd));
}

// Deletes the test's queues at the end, pass or fail, over a plain rabbitmq-c connection.
struct cleanup {
    amqp_url url;
    std::vector<std::string> names;
    ~cleanup() {
        amqp_connection_state_t s = amqp_new_connection();
        auto* sock = amqp_tcp_socket_new(s);
        if (sock && amqp_socket_open(sock, url.host.c_str(), url.port) == AMQP_STATUS_OK &&
            amqp_login(s, url.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, url.user.c_str(),
                       url.password.c_str())
                    .reply_type == AMQP_RESPONSE_NORMAL &&
            amqp_channel_open(s, 1)) {
            for (const auto& n : names) amqp_queue_delete(s, 1, amqp_cstring_bytes(n.c_str()), 0, 0);
            amqp_connection_close(s, AMQP_REPLY_SUCCESS);
        }
        amqp_destroy_connection(s);
    }
};

publish_outcome publish_and_wait(publisher& pub, outgoing_message m) {
    std::promise<publish_outcome> p;
    auto f = p.get_future();
    pub.publish(std::move(m), [&p](publish_outcome o) { p.set_value(o); });
    return f.get();
}

}  // namespace

TEST_CASE("a retry waits for its expiration in the retry queue, then returns to the task queue", "[broker]") {
    const char* text = std::getenv("PFO3_TEST_AMQP_URL");
    if (!text || !*text) {
        WARN("PFO3_TEST_AMQP_URL is not set: broker test skipped");
        return;
    }
    const auto url = amqp_url::parse(text);
    topology topo{unique_queue(), "classic"};
    cleanup clean{url, {topo.queue, topo.dead_queue(), topo.retry_queue(300ms)}};

    publisher_options po;
    po.url = url;
    po.topo = topo;
    publisher pub(po);
    pub.start();
    REQUIRE(pub.wait_connected(10s));

    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<delivery, std::chrono::steady_clock::time_point>> got;
    consumer_options co;
    co.url = url;
    co.topo = topo;
    co.prefetch = 10;
    consumer con(co, [&](delivery d) {
        std::lock_guard lk(mu);
        got.emplace_back(std::move(d), std::chrono::steady_clock::now());
        cv.notify_all();
    });
    con.start();

    auto sent = std::chrono::steady_clock::now();
    for (int i = 0; i < 2; ++i) {
        outgoing_message m;
        m.routing_key = "ignored: retry_delay decides";
        m.body = "{\"id\":\"r" + std::to_string(i) + "\",\"type\":\"echo\",\"attempt\":2}";
        m.message_id = "r" + std::to_string(i);
        m.type = "echo";
        m.retry_delay = 300ms;
        m.expiration_ms = 250 + 100 * i;  // jittered around the queue's delay
        // The second publish finds the queue declared already on this connection.
        REQUIRE(publish_and_wait(pub, m) == publish_outcome::confirmed);
    }

    std::unique_lock lk(mu);
    REQUIRE(cv.wait_for(lk, 20s, [&] { return got.size() == 2; }));
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& [d, at] = got[i];
        CHECK(d.message_id == "r" + std::to_string(i));
        CHECK_FALSE(d.redelivered);  // dead-lettered back, not requeued: not a crash
        CHECK(at - sent >= std::chrono::milliseconds(250 + 100 * i));
        con.ack(d.generation, d.tag);
    }
    lk.unlock();
    con.stop();
    pub.stop();
}
