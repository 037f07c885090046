// Design of the consumer (the AMQP core of `pfo3 work`):
//
// - One private owner thread (a detail::session) owns the connection. ack()/nack()/cancel()/
//   stop() from any thread append to a mutex-protected vector and wake it; the owner poll()s
//   the wake-up and the AMQP socket (timeout 500 ms, so heartbeats go out on time).
// - On every connect: declare the topology, basic.qos(prefetch), basic.consume(no_ack=0), and
//   bump the generation. A delivery carries (generation, tag); an ack or nack whose generation
//   is not the current one is dropped, since RabbitMQ already requeued that message when the
//   old connection died (and its tag would name another message, or close the channel with
//   PRECONDITION_FAILED, on the new one).
// - Each loop: carry out queued acks/nacks/cancel (acks coalesced into one `multiple` ack for
//   the settled run at the front, see ack_coalescer.hpp), then hand over every delivery already
//   buffered or readable (connection::next_delivery, which answers a channel.close /
//   connection.close or a broker-side basic.cancel, e.g. the queue was deleted, and throws:
//   the reconnect declares and consumes again).
// - Connection lost: state_handler(false), and the session reconnects (amqp_session.hpp).
// - stop(): carry out the acks/nacks requested so far, close channel and connection, join.
#include "pfo3/queue/consumer.hpp"

#include <mutex>
#include <utility>
#include <vector>

#include "amqp_session.hpp"
#include "url_rotation.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "ack_coalescer.hpp"

namespace pfo3::queue {

namespace {

detail::session_options session_options_of(const consumer_options& o) {
    return {detail::with_urls(o.url, o.failover), o.connection_name, o.topo.queue, "consume", "no tasks are consumed",
            "unacked tasks will be redelivered", "unacked", o.stats};
}

}  // namespace

struct consumer::impl final : detail::session {
    struct request {
        std::uint64_t generation;
        std::uint64_t tag;
        bool ack;
        bool requeue;
    };

    impl(consumer_options o, delivery_handler d, state_handler s)
        : session(session_options_of(o)), opts(std::move(o)), on_delivery(std::move(d)), on_state(std::move(s)) {}
    ~impl() override { stop(); }

    consumer_options opts;
    delivery_handler on_delivery;
    state_handler on_state;

    // Shared with other threads.
    std::mutex mu;
    std::vector<request> requests;  // guarded by mu; bounded by the deliveries in hand
    bool cancel_requested = false;  // guarded by mu
    bool reconnect_requested = false;  // guarded by mu
    bool finished = false;          // guarded by mu

    // Owner thread only.
    std::uint64_t generation = 0;
    bool consuming = false;
    bool cancelled = false;  // basic.cancel sent (or never to consume again)
    ack_coalescer acks;      // this connection's deliveries not yet acked

    void set_state(bool c) {
        if (consuming == c) return;
        consuming = c;
        if (!on_state) return;
        try {
            on_state(c);
        } catch (const std::exception& e) {
            PFO3_LOG(error, "the consumer state handler threw; ignored", {{"error", e.what()}});
        }
    }

    // Carries out queued requests; returns true if a stop was requested.
    bool do_requests(detail::connection& c) {
        // Read before taking the batch: every ack asked for before stop() is in it.
        const bool stop = stopping();
        std::vector<request> batch;
        bool cancel = false, reconnect = false;
        {
            std::lock_guard lk(mu);
            batch.swap(requests);
            cancel = cancel_requested;
            reconnect = std::exchange(reconnect_requested, false);
        }
        for (const auto& r : batch) {
            if (r.generation != generation) {
                PFO3_LOG(debug, "dropped an ack/nack from a lost connection; RabbitMQ redelivers that message",
                         {{"tag", std::to_string(r.tag)}});
                continue;
            }
            if (r.ack) {
                if (!acks.want_ack(r.tag))
                    PFO3_LOG(warn, "ignored an ack for a delivery that is not held (acked twice?)",
                             {{"tag", std::to_string(r.tag)}});
                continue;
            }
            c.nack(r.tag, false, r.requeue);
            acks.settled(r.tag);
        }
        auto plan = acks.take();
        for (auto tag : plan.singles) c.ack(tag, false);
        if (plan.multiple_up_to) c.ack(*plan.multiple_up_to, true);
        if (reconnect && !cancel && !stop)
            throw service_error("asked to consume again (the consuming watchdog saw a backlog but no delivery)", true);
        if (cancel && !cancelled) {
            cancelled = true;
            if (consuming) {
                c.cancel_consume();
                PFO3_LOG(info, "stopped consuming", {{"queue", opts.topo.queue}});
                set_state(false);
            }
        }
        return stop;
    }

    void deliver(const detail::envelope& env, detail::connection& c) {
        const auto& p = env->message.properties;
        delivery d;
        d.generation = generation;
        d.tag = env->delivery_tag;
        acks.delivered(env->delivery_tag);
        d.redelivered = env->redelivered != 0;
        d.body = detail::text(env->message.body);
        if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) d.message_id = detail::text(p.message_id);
        if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) d.content_type = detail::text(p.content_type);
        if (p._flags & AMQP_BASIC_TYPE_FLAG) d.type = detail::text(p.type);
        if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
            d.delivery_count = detail::delivery_count(p.headers);
            d.maybe_copy = detail::maybe_copy(p.headers);
        }
        try {
            on_delivery(std::move(d));
            return;
        } catch (const std::exception& e) {
            PFO3_LOG(error, "the delivery handler threw; the message goes back to the queue", {{"error", e.what()}});
        } catch (...) {
            PFO3_LOG(error, "the delivery handler threw; the message goes back to the queue");
        }
        // Nobody holds the delivery now: give it back rather than leave it unacked.
        c.nack(env->delivery_tag, false, /*requeue*/ true);
        acks.settled(env->delivery_tag);
    }

    // session steps, on the owner thread.

    void set_up(detail::connection& c) override {
        c.declare(opts.topo);
        c.qos(opts.prefetch);
        ++generation;
        acks.reset();
        bool cancel;
        {
            std::lock_guard lk(mu);
            cancel = cancel_requested;
            // Anything requested before this connection refers to an older one.
            requests.clear();
        }
        if (cancel) {
            cancelled = true;
            return;
        }
        c.consume(opts.topo.queue);
    }

    void on_up() override {
        if (!cancelled) set_state(true);
    }

    // Runs one connection until it is lost (throws) or a stop is requested.
    void serve(detail::connection& c) override {
        detail::envelope env;
        for (;;) {
            if (do_requests(c)) return;
            while (c.next_delivery(env, detail::clock::time_point{}, "consume")) deliver(env, c);
            if (opts.on_burst_end) opts.on_burst_end();
            wait(c, detail::clock::time_point::max());
        }
    }

    void on_down(bool) override {
        // Deliveries gathered before the connection broke are handed on too, not held until
        // the next connection delivers something.
        if (opts.on_burst_end) opts.on_burst_end();
        set_state(false);
    }

    std::size_t in_flight() const override { return acks.unsettled(); }

    void while_down() override {
        // Without a connection every requested ack/nack is stale: RabbitMQ requeued those
        // messages when the connection died.
        std::lock_guard lk(mu);
        requests.clear();
    }

    void on_finish() override {
        std::lock_guard lk(mu);
        finished = true;
        requests.clear();
    }

    void push(const request& r) {
        bool first;
        {
            std::lock_guard lk(mu);
            if (finished) return;
            // The owner takes the whole vector at once: only the first request since then wakes it.
            first = requests.empty();
            requests.push_back(r);
        }
        if (first) notify();
    }
};

consumer::consumer(consumer_options opts, delivery_handler on_delivery, state_handler on_state)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(on_delivery), std::move(on_state))) {}

consumer::~consumer() { stop(); }

void consumer::start() { impl_->start(); }

void consumer::ack(std::uint64_t generation, std::uint64_t tag) { impl_->push({generation, tag, true, false}); }

void consumer::nack(std::uint64_t generation, std::uint64_t tag, bool requeue) {
    impl_->push({generation, tag, false, requeue});
}

void consumer::cancel() {
    {
        std::lock_guard lk(impl_->mu);
        impl_->cancel_requested = true;
    }
    impl_->notify();
}

void consumer::reconnect() {
    {
        std::lock_guard lk(impl_->mu);
        impl_->reconnect_requested = true;
    }
    impl_->notify();
}

void consumer::stop() { impl_->stop(); }

}  // namespace pfo3::queue
