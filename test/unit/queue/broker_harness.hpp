#pragma once
// What the broker tests share: a plain rabbitmq-c connection for set-up and clean-up,
// recorders of publish outcomes and deliveries, message and option makers. The tests run only
// when PFO3_TEST_AMQP_URL names a broker, e.g.
//   PFO3_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f
// and otherwise pass with a warning (BROKER_OR_SKIP). Every test uses queues of its own
// (random suffix) and deletes them afterwards.
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
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pfo3/queue/consumer.hpp"
#include "pfo3/queue/publisher.hpp"

namespace pfo3_broker_test {

using namespace pfo3::queue;
using namespace std::chrono_literals;

inline const char* env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
}

inline std::string unique_name(const std::string& what) {
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
    void remove_exchange(const std::string& x) {
        if (!amqp_exchange_delete(s_, ch_, amqp_cstring_bytes(x.c_str()), 0)) open_channel();
    }
    // basic.get of one message (acked): nullopt if the queue is empty; else the queues its
    // x-death header names (where it was dead-lettered from), each with its count.
    std::optional<std::map<std::string, long>> get_deaths(const std::string& q) {
        amqp_basic_get(s_, ch_, amqp_cstring_bytes(q.c_str()), /*no_ack*/ 1);
        amqp_rpc_reply_t r = amqp_get_rpc_reply(s_);
        REQUIRE(r.reply_type == AMQP_RESPONSE_NORMAL);
        if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::nullopt;
        amqp_message_t m;
        REQUIRE(amqp_read_message(s_, ch_, &m, 0).reply_type == AMQP_RESPONSE_NORMAL);
        std::map<std::string, long> deaths;
        const amqp_table_t& h = m.properties.headers;
        for (int i = 0; (m.properties._flags & AMQP_BASIC_HEADERS_FLAG) && i < h.num_entries; ++i) {
            if (std::string(static_cast<char*>(h.entries[i].key.bytes), h.entries[i].key.len) != "x-death") continue;
            const amqp_array_t& a = h.entries[i].value.value.array;
            for (int j = 0; j < a.num_entries; ++j) {
                const amqp_table_t& t = a.entries[j].value.table;
                std::string queue;
                long count = 0;
                for (int k = 0; k < t.num_entries; ++k) {
                    std::string key(static_cast<char*>(t.entries[k].key.bytes), t.entries[k].key.len);
                    if (key == "queue")
                        queue.assign(static_cast<char*>(t.entries[k].value.value.bytes.bytes),
                                     t.entries[k].value.value.bytes.len);
                    if (key == "count") count = static_cast<long>(t.entries[k].value.value.i64);
                }
                deaths[queue] = count;
            }
        }
        amqp_destroy_message(&m);
        amqp_maybe_release_buffers(s_);
        return deaths;
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

inline outgoing_message message(const std::string& queue, std::size_t i) {
    outgoing_message m;
    m.routing_key = queue;
    m.message_id = "id-" + std::to_string(i);
    m.type = "echo";
    m.body = "{\"id\":\"id-" + std::to_string(i) + "\",\"type\":\"echo\",\"payload\":" + std::to_string(i) + "}";
    m.timestamp = 1700000000;
    return m;
}

inline publisher_options pub_options(const amqp_url& url, const std::string& queue) {
    publisher_options o;
    o.url = url;
    o.topo.queue = queue;
    o.connection_name = "pfo3-unit-test";
    return o;
}

inline consumer_options con_options(const amqp_url& url, const std::string& queue, std::uint16_t prefetch) {
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

}  // namespace pfo3_broker_test
