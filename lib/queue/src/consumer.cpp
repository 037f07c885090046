// Design of the consumer (the AMQP core of `pfo3 work`):
//
// - One private owner thread owns the connection. ack()/nack()/cancel()/stop() from any thread
//   append to a mutex-protected vector and raise an eventfd; the owner poll()s the eventfd and
//   the AMQP socket (timeout 500 ms, so heartbeats go out on time).
// - On every connect: declare the topology, basic.qos(prefetch), basic.consume(no_ack=0), and
//   bump the generation. A delivery carries (generation, tag); an ack or nack whose generation
//   is not the current one is dropped, since RabbitMQ already requeued that message when the
//   old connection died (and its tag would name another message, or close the channel with
//   PRECONDITION_FAILED, on the new one).
// - Each loop: carry out queued acks/nacks/cancel (acks coalesced into one `multiple` ack for
//   the settled run at the front, see ack_coalescer.hpp), then hand over every delivery already
//   buffered or readable (amqp_consume_message with a zero timeout). A non-delivery frame
//   shows up as AMQP_STATUS_UNEXPECTED_STATE with the frame put back: we read it and act on
//   it (channel.close / connection.close: answer close-ok, reconnect; a broker-side
//   basic.cancel, e.g. the queue was deleted: reconnect, which declares and consumes again).
// - Connection lost: state_handler(false), reconnect with backoff (100 ms doubling to 5 s,
//   20% jitter), one warning per outage, "reconnected" when it is over.
// - stop(): carry out the acks/nacks requested so far, close channel and connection, join.
#include "pfo3/queue/consumer.hpp"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "amqp_connection.hpp"
#include "pfo3/core/backoff.hpp"
#include "pfo3/queue/ack_coalescer.hpp"
#include "pfo3/core/log.hpp"

namespace pfo3::queue {

namespace {

using clock = std::chrono::steady_clock;

std::string bytes_text(amqp_bytes_t b) {
    return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

amqp_bytes_t as_bytes(const std::string& s) noexcept {
    return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

struct envelope_guard {
    amqp_envelope_t& e;
    ~envelope_guard() { amqp_destroy_envelope(&e); }
};

}  // namespace

struct consumer::impl {
    struct request {
        std::uint64_t generation;
        std::uint64_t tag;
        bool ack;
        bool requeue;
    };

    impl(consumer_options o, delivery_handler d, state_handler s)
        : opts(std::move(o)), on_delivery(std::move(d)), on_state(std::move(s)) {}

    consumer_options opts;
    delivery_handler on_delivery;
    state_handler on_state;
    detail::wakeup wake;

    // Shared with other threads.
    std::mutex mu;
    std::vector<request> requests;  // guarded by mu; bounded by the deliveries in hand
    bool cancel_requested = false;  // guarded by mu
    bool stop_requested = false;    // guarded by mu
    bool finished = false;          // guarded by mu
    std::atomic<bool> stopping{false};
    std::thread thread;
    std::mutex stop_mu;

    // Owner thread only.
    std::uint64_t generation = 0;
    bool consuming = false;
    bool cancelled = false;  // basic.cancel sent (or never to consume again)
    std::string consumer_tag;
    clock::time_point last_rx;
    ack_coalescer acks;  // this connection's deliveries not yet acked

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

    void idle_wait(std::chrono::milliseconds d) {
        auto until = clock::now() + d;
        for (;;) {
            {
                // Without a connection every requested ack/nack is stale: RabbitMQ requeued
                // those messages when the connection died.
                std::lock_guard lk(mu);
                requests.clear();
            }
            if (stopping.load()) return;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
            if (left.count() <= 0) return;
            detail::wait_readable(-1, wake, left);
            wake.drain();
        }
    }

    // Carries out queued requests; returns true if a stop was requested.
    bool do_requests(detail::connection& c) {
        std::vector<request> batch;
        bool cancel = false;
        bool stop = false;
        {
            std::lock_guard lk(mu);
            batch.swap(requests);
            cancel = cancel_requested;
            stop = stop_requested;
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
            c.check(amqp_basic_nack(c.get(), detail::channel, r.tag, 0, r.requeue ? 1 : 0), "basic.nack");
            acks.settled(r.tag);
        }
        auto plan = acks.take();
        for (auto tag : plan.singles) c.check(amqp_basic_ack(c.get(), detail::channel, tag, 0), "basic.ack");
        if (plan.multiple_up_to)
            c.check(amqp_basic_ack(c.get(), detail::channel, *plan.multiple_up_to, /*multiple*/ 1), "basic.ack");
        if (cancel && !cancelled) {
            cancelled = true;
            if (consuming) {
                amqp_basic_cancel(c.get(), detail::channel, as_bytes(consumer_tag));
                c.check(amqp_get_rpc_reply(c.get()), "basic.cancel");
                PFO3_LOG(info, "stopped consuming", {{"queue", opts.topo.queue}});
                set_state(false);
            }
        }
        return stop;
    }

    void deliver(amqp_envelope_t& env, detail::connection& c) {
        const auto& p = env.message.properties;
        delivery d;
        d.generation = generation;
        d.tag = env.delivery_tag;
        acks.delivered(env.delivery_tag);
        d.redelivered = env.redelivered != 0;
        d.body = bytes_text(env.message.body);
        if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) d.message_id = bytes_text(p.message_id);
        if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) d.content_type = bytes_text(p.content_type);
        if (p._flags & AMQP_BASIC_TYPE_FLAG) d.type = bytes_text(p.type);
        try {
            on_delivery(std::move(d));
        } catch (const std::exception& e) {
            // Nobody holds the delivery now: give it back rather than leave it unacked.
            PFO3_LOG(error, "the delivery handler threw; the message goes back to the queue",
                     {{"error", e.what()}});
            c.check(amqp_basic_nack(c.get(), detail::channel, env.delivery_tag, 0, 1), "basic.nack");
            acks.settled(env.delivery_tag);
        } catch (...) {
            PFO3_LOG(error, "the delivery handler threw; the message goes back to the queue");
            c.check(amqp_basic_nack(c.get(), detail::channel, env.delivery_tag, 0, 1), "basic.nack");
            acks.settled(env.delivery_tag);
        }
    }

    void on_frame(detail::connection& c, const amqp_frame_t& f) {
        if (f.frame_type != AMQP_FRAME_METHOD) return;
        const amqp_method_t& m = f.payload.method;
        switch (m.id) {
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD: {
            auto err = detail::make_close_error(m, "consume", c.peer());
            c.answer_close(m);
            throw err;
        }
        case AMQP_BASIC_CANCEL_METHOD: {
            auto* bc = static_cast<const amqp_basic_cancel_t*>(m.decoded);
            if (bc && !bc->nowait) {
                amqp_basic_cancel_ok_t ok{bc->consumer_tag};
                (void)amqp_send_method(c.get(), detail::channel, AMQP_BASIC_CANCEL_OK_METHOD, &ok);
            }
            throw service_error("consume on " + c.peer() + ": the broker cancelled the consumer of '" +
                                    opts.topo.queue + "' (queue deleted or node down?)",
                                true);
        }
        default:
            PFO3_LOG(debug, "ignored a frame from the broker", {{"method", amqp_method_name(m.id)}});
        }
    }

    void read_deliveries(detail::connection& c) {
        for (;;) {
            amqp_maybe_release_buffers(c.get());
            amqp_envelope_t env;
            timeval zero{0, 0};
            auto r = amqp_consume_message(c.get(), &env, &zero, 0);
            if (r.reply_type == AMQP_RESPONSE_NORMAL) {
                envelope_guard g{env};
                last_rx = clock::now();
                deliver(env, c);
                continue;
            }
            if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) return;
            if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
                // A frame other than basic.deliver: rabbitmq-c put it back for us to read.
                amqp_frame_t f;
                int st = amqp_simple_wait_frame_noblock(c.get(), &f, &zero);
                if (st == AMQP_STATUS_TIMEOUT) return;
                c.check(st, "read from broker");
                last_rx = clock::now();
                on_frame(c, f);
                continue;
            }
            c.check(r, "consume");
        }
    }

    // Runs one connection until it is lost (throws) or a stop is requested.
    void serve(detail::connection& c) {
        last_rx = clock::now();
        const auto hb = std::chrono::seconds(c.heartbeat());
        for (;;) {
            if (do_requests(c)) return;
            read_deliveries(c);
            auto now = clock::now();
            if (hb.count() > 0 && now - last_rx > 2 * hb)
                throw service_error("consume on " + c.peer() + ": no heartbeat from the broker for " +
                                        std::to_string(2 * hb.count()) + " s",
                                    true);
            // Frames rabbitmq-c already holds would not make the socket readable.
            auto timeout = amqp_frames_enqueued(c.get()) || amqp_data_in_buffer(c.get())
                               ? std::chrono::milliseconds(0)
                               : detail::max_poll_interval;
            if (detail::wait_readable(c.fd(), wake, timeout)) last_rx = clock::now();
            wake.drain();
        }
    }

    void connect_and_consume(detail::connection& c) {
        c.declare(opts.topo);
        amqp_basic_qos(c.get(), detail::channel, 0, opts.prefetch, 0);
        c.check(amqp_get_rpc_reply(c.get()), "basic.qos");
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
        auto* ok = amqp_basic_consume(c.get(), detail::channel, as_bytes(opts.topo.queue), amqp_empty_bytes,
                                      /*no_local*/ 0, /*no_ack*/ 0, /*exclusive*/ 0, amqp_empty_table);
        c.check(amqp_get_rpc_reply(c.get()), "basic.consume");
        consumer_tag = ok ? bytes_text(ok->consumer_tag) : std::string();
    }

    void run() {
        backoff retry(backoff_policy{std::chrono::milliseconds(100), 2.0, std::chrono::milliseconds(5000), 0.2});
        bool outage = false;
        const std::string url = opts.url.masked();
        while (!stopping.load()) {
            std::unique_ptr<detail::connection> c;
            try {
                c = std::make_unique<detail::connection>(opts.url, opts.connection_name, detail::heartbeat_seconds);
                connect_and_consume(*c);
            } catch (const std::exception& e) {
                c.reset();
                bool retryable = true;
                if (auto* se = dynamic_cast<const service_error*>(&e)) retryable = se->retryable();
                if (!outage) {
                    if (retryable)
                        PFO3_LOG(warn, "cannot connect to the broker; no tasks are consumed until it is back, retrying",
                                 {{"url", url}, {"error", e.what()}});
                    else
                        PFO3_LOG(error, "the broker refused us; fix the settings, retrying meanwhile",
                                 {{"url", url}, {"error", e.what()}});
                    outage = true;
                } else {
                    PFO3_LOG(debug, "reconnect failed", {{"url", url}, {"error", e.what()}});
                }
                idle_wait(retry.next());
                continue;
            }
            if (outage) PFO3_LOG(info, "reconnected to the broker", {{"url", url}});
            else PFO3_LOG(info, "connected to the broker", {{"url", url}, {"queue", opts.topo.queue}});
            outage = false;
            retry.reset();
            if (!cancelled) set_state(true);
            try {
                serve(*c);
                c->close();
                set_state(false);
            } catch (const std::exception& e) {
                PFO3_LOG(warn, "lost the broker connection; unacked tasks will be redelivered, reconnecting",
                         {{"url", url}, {"error", e.what()}});
                set_state(false);
                outage = true;
                c.reset();
                if (!stopping.load()) idle_wait(retry.next());
            }
        }
        std::lock_guard lk(mu);
        finished = true;
        requests.clear();
    }
};

consumer::consumer(consumer_options opts, delivery_handler on_delivery, state_handler on_state)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(on_delivery), std::move(on_state))) {}

consumer::~consumer() { stop(); }

void consumer::start() {
    std::lock_guard lk(impl_->stop_mu);
    if (impl_->thread.joinable() || impl_->stopping.load()) return;
    impl_->thread = std::thread([this] { impl_->run(); });
}

void consumer::ack(std::uint64_t generation, std::uint64_t tag) {
    bool first;
    {
        std::lock_guard lk(impl_->mu);
        if (impl_->finished) return;
        // The owner takes the whole vector at once: only the first request since then wakes it.
        first = impl_->requests.empty();
        impl_->requests.push_back(impl::request{generation, tag, true, false});
    }
    if (first) impl_->wake.notify();
}

void consumer::nack(std::uint64_t generation, std::uint64_t tag, bool requeue) {
    bool first;
    {
        std::lock_guard lk(impl_->mu);
        if (impl_->finished) return;
        // The owner takes the whole vector at once: only the first request since then wakes it.
        first = impl_->requests.empty();
        impl_->requests.push_back(impl::request{generation, tag, false, requeue});
    }
    if (first) impl_->wake.notify();
}

void consumer::cancel() {
    {
        std::lock_guard lk(impl_->mu);
        impl_->cancel_requested = true;
    }
    impl_->wake.notify();
}

void consumer::stop() {
    auto& s = *impl_;
    std::lock_guard stop_lk(s.stop_mu);
    {
        std::lock_guard lk(s.mu);
        s.stop_requested = true;
    }
    s.stopping.store(true);
    s.wake.notify();
    if (s.thread.joinable()) s.thread.join();
}

}  // namespace pfo3::queue
