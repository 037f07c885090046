// The broker ceiling: how fast RabbitMQ alone takes pfo3's messages on this machine.
//
// Three phases on one temporary durable queue, each with the same number of messages:
//  1. publish: one connection in confirm mode publishes persistent, mandatory messages with
//     pfo3's properties, keeping at most `window` unconfirmed; timed until the last confirm.
//  2. consume: a second connection with basic.qos(prefetch) consumes what phase 1 left and
//     acks (multiple acks, every prefetch/2 deliveries or when nothing more is buffered).
//  3. pipeline: both at once, the publisher on a helper thread, the consumer here; timed from
//     the first publish to the last delivery. This is the end-to-end ceiling pfo3's
//     serve → broker → worker path is compared with.
// Open loop (a rate): only phase 3, message k published at k/rate, each message's confirm and
// delivery latency taken from its due time, the way `pfo3 bench --rate` times submit→ok.
// Each connection is used by one thread at a time (rabbitmq-c is not thread-safe).
#include "pfo3/queue/broker_probe.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <exception>
#include <optional>
#include <random>
#include <string_view>
#include <thread>
#include <vector>

#include "amqp_connection.hpp"
#include "pfo3/core/error.hpp"

namespace pfo3::queue {

namespace {

using detail::clock;

// Each connection sits idle while the other phase runs, and rabbitmq-c sends heartbeats only
// from inside its calls: without heartbeats a long phase cannot get the idle one closed.
constexpr int no_heartbeat = 0;

double seconds_since(clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
}

std::string probe_queue_name() {
    std::random_device rd;
    return "pfo3.bench.probe." + std::to_string(::getpid()) + "." + std::to_string(rd() % 1000000);
}

// Open loop: message k is due at t0 + k/rate.
struct pacing {
    clock::time_point t0;
    double rate;
    clock::duration offset(std::uint64_t k) const {
        return std::chrono::duration_cast<clock::duration>(
            std::chrono::duration<double>(static_cast<double>(k) / rate));
    }
};

// The publishing side: confirm mode, a window of unconfirmed delivery tags.
class probe_publisher {
public:
    probe_publisher(const broker_probe_options& opts, const std::string& queue)
        : opts_(opts), queue_(queue), conn_(opts.url, "pfo3 bench probe publisher", no_heartbeat) {
        conn_.confirm_select();
    }

    detail::connection& connection() noexcept { return conn_; }

    // Publishes `count` messages and waits for all their confirms. With `pace`, message k of
    // this call is due at pace->t0 + k/rate and published no earlier; each confirm's latency
    // from its message's due time goes to confirm_ns_.
    void publish(std::size_t count, const char* phase, const pacing* pace = nullptr) {
        const auto deadline = clock::now() + opts_.phase_timeout;
        const std::uint64_t first = next_tag_;
        const std::uint64_t end = first + count;  // one past the last tag of this call
        settled_.assign(count, 0);
        due_.assign(pace ? count : 0, clock::time_point{});
        base_ = first;
        low_ = first;
        auto due_at = [&](std::uint64_t tag) { return pace->t0 + pace->offset(tag - first); };
        while (low_ < end) {
            const auto now = clock::now();
            while (next_tag_ < end && next_tag_ - low_ < opts_.window) {
                std::string id = "probe-" + std::to_string(next_tag_);
                if (pace) {
                    const auto due = due_at(next_tag_);
                    if (due > now) break;
                    due_[next_tag_ - base_] = due;
                    // The consumer measures delivery latency from the due time it reads here.
                    id.push_back('-');
                    id += std::to_string(
                        std::chrono::duration_cast<std::chrono::nanoseconds>(due.time_since_epoch()).count());
                }
                // pfo3's properties, written the way serve writes a batch (one send for many
                // messages), so the ceiling is the broker's, not rabbitmq-c's three writes each.
                const detail::task_properties p(id, opts_.type, static_cast<std::int64_t>(::time(nullptr)));
                next_tag_ = conn_.publish(queue_, p.get(), opts_.body) + 1;
            }
            conn_.flush();
            // Block for a confirm only when nothing more may be published; paced, wait for
            // confirms until the next message is due; else just drain.
            const bool must_wait = next_tag_ == end || next_tag_ - low_ >= opts_.window;
            if (must_wait) read_confirms(deadline, true, phase, end);
            else if (pace) {
                // rabbitmq-c waits in whole milliseconds: at 2000 msgs/s that is a busy loop
                // (a core taken from the broker). Sleep to the due time here, then drain.
                if (!amqp_frames_enqueued(conn_.get()) && !amqp_data_in_buffer(conn_.get()))
                    sleep_until_readable(std::min(due_at(next_tag_), deadline));
                read_confirms(clock::time_point{}, false, phase, end);
            }
            else read_confirms(clock::time_point{}, false, phase, end);
            if (!must_wait && clock::now() > deadline)
                throw service_error(std::string(phase) + " on " + conn_.peer() + ": still publishing after " +
                                        std::to_string(opts_.phase_timeout.count()) + " ms",
                                    true);
        }
    }

    std::vector<std::int64_t>& confirm_latencies() noexcept { return confirm_ns_; }

private:
    // Until the socket is readable or `until`, with nanosecond precision.
    void sleep_until_readable(clock::time_point until) const {
        const auto left = until - clock::now();
        if (left <= clock::duration::zero()) return;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        pollfd fd{amqp_get_sockfd(conn_.get()), POLLIN, 0};
        (void)::ppoll(&fd, 1, &ts, nullptr);  // EINTR or an error: the caller's read finds out
    }

public:
    std::size_t nacked() const noexcept { return nacked_; }
    std::size_t returned() const noexcept { return returned_; }

private:
    // Reads every confirm available; waits until `until` for the first one if it is set. A
    // timeout is an error only when `must` (a confirm is needed to go on).
    void read_confirms(clock::time_point until, bool must, const char* phase, std::uint64_t end) {
        bool first = until != clock::time_point{};
        for (;;) {
            auto ev = conn_.read_confirm(first ? until : clock::time_point{}, phase);
            if (!ev) {
                if (first && must)
                    throw service_error(std::string(phase) + " on " + conn_.peer() + ": " +
                                            std::to_string(end - low_) + " confirms still missing after " +
                                            std::to_string(opts_.phase_timeout.count()) + " ms",
                                        true);
                return;
            }
            first = false;
            switch (ev->what) {
            case detail::confirm::kind::nack: ++nacked_; [[fallthrough]];
            case detail::confirm::kind::ack: settle(*ev); break;
            case detail::confirm::kind::returned: ++returned_; break;
            default: break;  // connection.blocked and the like: the timeout bounds any stall
            }
        }
    }

    void settle(const detail::confirm& ev) {
        const std::uint64_t end = base_ + settled_.size();  // tags below base_ are earlier calls'
        const auto now = clock::now();
        auto mark = [&](std::uint64_t t) {
            if (settled_[t - base_]) return;
            settled_[t - base_] = 1;
            if (!due_.empty()) confirm_ns_.push_back((now - due_[t - base_]).count());
        };
        if (ev.multiple)
            for (std::uint64_t t = low_; t < end && ev.covers(t); ++t) mark(t);
        else if (ev.tag >= base_ && ev.tag < end)
            mark(ev.tag);
        while (low_ < end && settled_[low_ - base_]) ++low_;
    }

    const broker_probe_options& opts_;
    const std::string& queue_;
    detail::connection conn_;
    std::uint64_t next_tag_ = 1;  // delivery tags count from 1 per channel in confirm mode
    std::uint64_t base_ = 1;      // tag of settled_[0]
    std::uint64_t low_ = 1;       // lowest tag not yet confirmed
    std::vector<char> settled_;
    std::vector<clock::time_point> due_;  // paced calls only: due time of each tag
    std::vector<std::int64_t> confirm_ns_;
    std::size_t nacked_ = 0;
    std::size_t returned_ = 0;
};

// The consuming side: qos(prefetch), one consumer, multiple acks.
class probe_consumer {
public:
    probe_consumer(const broker_probe_options& opts, const std::string& queue)
        : opts_(opts), conn_(opts.url, "pfo3 bench probe consumer", no_heartbeat) {
        conn_.qos(opts.prefetch);
        conn_.consume(queue);
    }

    detail::connection& connection() noexcept { return conn_; }

    // Receives and acks `count` deliveries. With `record`, each delivery's latency from the
    // due time its message id carries (paced publishes) goes to deliver_ns_.
    void consume(std::size_t count, const char* phase, bool record = false) {
        const auto deadline = clock::now() + opts_.phase_timeout;
        const std::size_t ack_every = std::max<std::size_t>(1, opts_.prefetch / 2);
        std::size_t got = 0, unacked = 0;
        std::uint64_t last_tag = 0;
        detail::envelope env;
        while (got < count) {
            if (!conn_.next_delivery(env, deadline, phase))
                throw service_error(std::string(phase) + " on " + conn_.peer() + ": " + std::to_string(count - got) +
                                        " deliveries still missing after " +
                                        std::to_string(opts_.phase_timeout.count()) + " ms",
                                    true);
            last_tag = env->delivery_tag;
            if (record) record_latency(env->message.properties);
            ++got;
            ++unacked;
            const bool buffered = amqp_frames_enqueued(conn_.get()) || amqp_data_in_buffer(conn_.get());
            if (unacked >= ack_every || got == count || !buffered) {
                conn_.ack(last_tag, /*multiple*/ true);
                unacked = 0;
            }
        }
    }

    std::vector<std::int64_t>& deliver_latencies() noexcept { return deliver_ns_; }

private:
    // Message ids of paced publishes are "probe-<tag>-<due ns>"; others are skipped.
    void record_latency(const amqp_basic_properties_t& p) {
        if (!(p._flags & AMQP_BASIC_MESSAGE_ID_FLAG)) return;
        const std::string_view id(static_cast<const char*>(p.message_id.bytes), p.message_id.len);
        const auto dash = id.rfind('-');
        if (dash == std::string_view::npos || dash < 6) return;
        std::int64_t due = 0;
        const auto digits = id.substr(dash + 1);
        const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), due);
        if (ec != std::errc{} || ptr != digits.data() + digits.size()) return;
        const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count();
        deliver_ns_.push_back(now - due);
    }

    const broker_probe_options& opts_;
    detail::connection conn_;
    std::vector<std::int64_t> deliver_ns_;
};

void declare_probe_queue(detail::connection& c, const std::string& name) {
    // Durable like pfo3's task queue, so persistent messages cost what they cost there;
    // x-expires (10 min unused) removes it even if the bench dies before deleting it.
    amqp_table_entry_t expires{};
    expires.key = amqp_cstring_bytes("x-expires");
    expires.value.kind = AMQP_FIELD_KIND_I32;
    expires.value.value.i32 = 600000;
    c.declare_durable(name, amqp_table_t{1, &expires}, "declare probe queue");
}

// Publisher (on a helper thread) and consumer (here) at once; timed from the first publish
// to the last delivery.
void run_pipeline(probe_publisher& pub, probe_consumer& con, std::size_t messages, const char* phase,
                  std::optional<pacing> pace, broker_probe_result& r) {
    std::exception_ptr publish_failure;
    const auto t0 = pace ? pace->t0 : clock::now();
    std::thread publisher_thread([&] {
        try {
            pub.publish(messages, phase, pace ? &*pace : nullptr);
        } catch (...) {
            publish_failure = std::current_exception();
        }
    });
    try {
        con.consume(messages, phase, pace.has_value());
    } catch (...) {
        // The publisher thread ends by itself: its phase is bounded by the same timeout.
        publisher_thread.join();
        throw;
    }
    r.pipeline_seconds = seconds_since(t0);
    publisher_thread.join();
    if (publish_failure) std::rethrow_exception(publish_failure);
}

}  // namespace

broker_probe_result measure_broker_ceiling(const broker_probe_options& opts) {
    if (opts.messages == 0 || opts.window == 0 || opts.prefetch == 0)
        throw config_error("broker ceiling: messages, window and prefetch must be at least 1");
    if (opts.rate && !(*opts.rate > 0)) throw config_error("broker ceiling: the rate must be positive");
    broker_probe_result r;
    r.messages = opts.messages;
    r.queue = probe_queue_name();

    probe_publisher pub(opts, r.queue);
    declare_probe_queue(pub.connection(), r.queue);
    struct queue_deleter {
        probe_publisher& pub;
        const std::string& name;
        ~queue_deleter() {
            // Best effort: x-expires removes the queue anyway if this fails.
            amqp_queue_delete(pub.connection().get(), detail::channel, detail::as_bytes(name), 0, 0);
            (void)amqp_get_rpc_reply(pub.connection().get());
            pub.connection().close();
        }
    } deleter{pub, r.queue};

    if (opts.rate) {
        r.open_loop = true;
        probe_consumer con(opts, r.queue);
        run_pipeline(pub, con, opts.messages, "broker alone (open loop)", pacing{clock::now(), *opts.rate}, r);
        r.confirm_ns = std::move(pub.confirm_latencies());
        r.deliver_ns = std::move(con.deliver_latencies());
        r.nacked = pub.nacked();
        r.returned = pub.returned();
        con.connection().close();
        return r;
    }

    auto t0 = clock::now();
    pub.publish(opts.messages, "broker ceiling (publish)");
    r.publish_seconds = seconds_since(t0);

    probe_consumer con(opts, r.queue);
    t0 = clock::now();
    con.consume(opts.messages, "broker ceiling (consume)");
    r.consume_seconds = seconds_since(t0);

    run_pipeline(pub, con, opts.messages, "broker ceiling (publish+consume)", std::nullopt, r);

    r.nacked = pub.nacked();
    r.returned = pub.returned();
    con.connection().close();
    return r;
}

}  // namespace pfo3::queue
