// Design of the publisher (the AMQP core of `pfo3 serve`):
//
// - One private owner thread owns the connection (rabbitmq-c is not thread-safe). publish()
//   from any thread appends to a mutex-protected vector and raises an eventfd; the owner
//   poll()s the eventfd and the AMQP socket (timeout <= 500 ms, so heartbeats go out and
//   deadlines fire on time).
// - Each loop: publish everything queued, then read every frame already buffered or readable
//   (amqp_simple_wait_frame_noblock with a zero timeout, which also drains rabbitmq-c's own
//   frame queue first and sends a heartbeat when one is due), then expire deadlines, then poll.
// - On a plain TCP connection a batch's frames are encoded by pfo3 (publish_frames.hpp) and
//   written with one send() per 256 KiB instead of three per message; under TLS each message
//   goes through amqp_basic_publish.
// - Pending publishes sit in a deque in delivery-tag order (tags are 1, 2, ... per channel
//   once confirm.select is on). basic.ack / basic.nack settle one tag or, with `multiple`,
//   every tag up to it. basic.return (we publish with mandatory) is followed by the returned
//   message and then by the ack for it: we mark the entry `returned` by message_id and the ack
//   completes it as `unroutable`. Each entry has a deadline (confirm_timeout); past it, it
//   completes `unavailable` and a late confirm finds nothing and is ignored.
// - Rejections that need no broker (not connected, stopping, over max_unconfirmed) complete
//   inline in publish(), so a caller never waits for a reconnect attempt to hear "no".
// - Connection lost (socket error, heartbeat timeout, channel.close, connection.close): every
//   pending entry completes `unavailable`, the owner reconnects with backoff (100 ms doubling
//   to 5 s, 20% jitter), logs one warning per outage and "reconnected" when it is over.
// - connection.blocked (broker memory/disk alarm): publishing would stall the owner thread in
//   a blocking write, so while blocked messages complete `unavailable` at once.
// - Every completion runs exactly once: it is moved out of its entry before being called and
//   `outstanding()` counts the publishes not yet completed.
// - Retry queues (decision 0005) are declared lazily: the first publish with a given
//   retry_delay on a connection declares `<queue>.retry.<ms>` (one RPC on the owner thread;
//   confirms arriving meanwhile are queued by rabbitmq-c and read in the next read_frames).
//   The declaration is repeated every `retry_redeclare_interval`, because publishing does not
//   count as use for x-expires: only a declaration (or a consumer) keeps the queue alive.
#include "pfo3/queue/publisher.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "amqp_connection.hpp"
#include "publish_frames.hpp"
#include "pfo3/core/backoff.hpp"
#include "pfo3/core/log.hpp"

namespace pfo3::queue {

namespace {

using clock = std::chrono::steady_clock;

// Well within the hour x-expires adds to every retry queue's longest wait.
constexpr auto retry_redeclare_interval = std::chrono::minutes(10);
// Frames of a batch are written once this many bytes are buffered (and at the batch's end).
constexpr std::size_t flush_bytes = 256 * 1024;
// A broker that takes no bytes at all for this long is treated as gone.
constexpr auto write_stall_limit = std::chrono::seconds(30);

amqp_bytes_t as_bytes(const std::string& s) noexcept {
    return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

std::string bytes_text(amqp_bytes_t b) {
    return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

const char* outcome_name(publish_outcome o) noexcept {
    switch (o) {
    case publish_outcome::confirmed: return "confirmed";
    case publish_outcome::nacked: return "nacked";
    case publish_outcome::unroutable: return "unroutable";
    case publish_outcome::unavailable: return "unavailable";
    case publish_outcome::overloaded: return "overloaded";
    }
    return "?";
}

// Frees a message read by amqp_read_message.
struct message_guard {
    amqp_message_t& m;
    ~message_guard() { amqp_destroy_message(&m); }
};

}  // namespace

struct publisher::impl {
    struct request {
        outgoing_message msg;
        completion done;
    };
    struct pending {
        std::uint64_t tag;
        std::string message_id;
        clock::time_point deadline;
        completion done;  // empty once completed
        bool returned = false;
    };

    explicit impl(publisher_options o) : opts(std::move(o)) {}

    publisher_options opts;
    detail::wakeup wake;

    // Shared with other threads.
    mutable std::mutex mu;
    std::condition_variable cv;
    std::vector<request> queue;  // guarded by mu
    bool stop_requested = false;  // guarded by mu
    bool finished = false;        // guarded by mu: the owner thread has completed everything
    clock::time_point stop_deadline;  // guarded by mu
    std::atomic<bool> connected{false};
    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> outstanding{0};
    std::thread thread;
    std::mutex stop_mu;

    // Owner thread only.
    std::deque<pending> pend;
    std::uint64_t next_tag = 1;
    bool blocked = false;
    std::map<std::string, clock::time_point> retry_declared;  // this connection's, by name
    std::string out;  // encoded frames not yet written (publish_batch)
    clock::time_point last_rx;

    void complete(completion& done, publish_outcome o) noexcept {
        if (!done) return;
        completion d = std::move(done);
        done = nullptr;
        outstanding.fetch_sub(1, std::memory_order_acq_rel);
        try {
            d(o);
        } catch (const std::exception& e) {
            PFO3_LOG(error, "a publish completion threw; ignored", {{"outcome", outcome_name(o)}, {"error", e.what()}});
        } catch (...) {
            PFO3_LOG(error, "a publish completion threw; ignored", {{"outcome", outcome_name(o)}});
        }
    }

    std::vector<request> take_queue() {
        std::vector<request> batch;
        std::lock_guard lk(mu);
        batch.swap(queue);
        return batch;
    }

    void fail_queued() {
        for (auto& r : take_queue()) complete(r.done, publish_outcome::unavailable);
    }

    void fail_pending() {
        for (auto& p : pend) complete(p.done, publish_outcome::unavailable);
        pend.clear();
    }

    std::size_t live_pending() const {
        return static_cast<std::size_t>(std::count_if(pend.begin(), pend.end(), [](const pending& p) { return bool(p.done); }));
    }

    void pop_completed() {
        while (!pend.empty() && !pend.front().done) pend.pop_front();
    }

    void set_connected(bool c) {
        {
            std::lock_guard lk(mu);
            connected.store(c);
        }
        cv.notify_all();
    }

    // Waits `d` (or until stop) without a connection, answering queued publishes meanwhile.
    void idle_wait(std::chrono::milliseconds d) {
        auto until = clock::now() + d;
        for (;;) {
            fail_queued();
            if (stopping.load()) return;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
            if (left.count() <= 0) return;
            detail::wait_readable(-1, wake, left);
            wake.drain();
        }
    }

    // Declares the retry queue for `delay` unless this connection did so recently.
    const std::string& retry_route(detail::connection& c, std::chrono::milliseconds delay, std::string& name) {
        name = opts.topo.retry_queue(delay);
        auto now = clock::now();
        auto it = retry_declared.find(name);
        if (it == retry_declared.end() || now - it->second >= retry_redeclare_interval) {
            c.declare_retry_queue(opts.topo, delay);
            retry_declared[name] = now;
        }
        return name;
    }

    // Publishes a batch; if the connection fails midway, what was not written yet completes
    // `unavailable` too (the rest of pend is failed by the caller's connection-lost path).
    // On a plain TCP connection the frames are encoded into `out` and written together (see
    // publish_frames.hpp); the entries are in `pend` before their bytes leave, so a failed
    // write completes them with the rest of pend.
    void publish_batch(detail::connection& c, std::vector<request>& batch) {
        out.clear();
        for (std::size_t i = 0; i < batch.size(); ++i) {
            try {
                publish_one(c, batch[i]);
                if (out.size() >= flush_bytes) flush(c);
            } catch (...) {
                out.clear();
                for (std::size_t j = i; j < batch.size(); ++j) complete(batch[j].done, publish_outcome::unavailable);
                throw;
            }
        }
        flush(c);
    }

    void flush(detail::connection& c) {
        if (out.empty()) return;
        std::string bytes;
        bytes.swap(out);  // cleared even if the write throws
        c.write_frames(bytes, write_stall_limit);
        bytes.clear();
        if (bytes.capacity() <= 2 * flush_bytes) out.swap(bytes);  // reuse the allocation
    }

    void publish_one(detail::connection& c, request& r) {
        if (blocked) {
            complete(r.done, publish_outcome::unavailable);
            return;
        }
        std::string retry_name;
        // A declaration is an RPC through rabbitmq-c: what is buffered goes out first.
        if (r.msg.retry_delay.count() > 0) flush(c);
        const std::string& route =
            r.msg.retry_delay.count() > 0 ? retry_route(c, r.msg.retry_delay, retry_name) : r.msg.routing_key;
        const std::string expiration =
            r.msg.expiration_ms >= 0 ? std::to_string(r.msg.expiration_ms) : std::string();
        static const std::string json = "application/json";
        amqp_basic_properties_t p{};
        p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                   AMQP_BASIC_TIMESTAMP_FLAG;
        p.content_type = as_bytes(json);
        p.delivery_mode = 2;  // persistent
        p.message_id = as_bytes(r.msg.message_id);
        p.timestamp = static_cast<std::uint64_t>(std::max<std::int64_t>(0, r.msg.timestamp));
        if (!r.msg.type.empty()) {
            p._flags |= AMQP_BASIC_TYPE_FLAG;
            p.type = as_bytes(r.msg.type);
        }
        if (!expiration.empty()) {
            p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
            p.expiration = as_bytes(expiration);
        }
        // A long type (a message published by anything but serve) must not make the publish,
        // typically its dead letter, fail for ever: both paths below send the cut properties.
        detail::fit_short_strings(p);
        // Enter the entry before writing: if the write fails, the connection-lost path
        // completes it with the others.
        pend.push_back(pending{next_tag++, r.msg.message_id, clock::now() + opts.confirm_timeout, std::move(r.done)});
        if (c.raw_writes()) {
            detail::append_publish(out, detail::channel, amqp_empty_bytes, as_bytes(route), /*mandatory*/ true, p,
                                   r.msg.body, c.frame_max());
            return;
        }
        int st = amqp_basic_publish(c.get(), detail::channel, amqp_empty_bytes, as_bytes(route),
                                    /*mandatory*/ 1, /*immediate*/ 0, &p, as_bytes(r.msg.body));
        c.check(st, "basic.publish");
    }

    void settle(std::uint64_t tag, bool multiple, bool ack) {
        auto outcome = [ack](const pending& p) {
            if (!ack) return publish_outcome::nacked;
            return p.returned ? publish_outcome::unroutable : publish_outcome::confirmed;
        };
        if (multiple) {
            while (!pend.empty() && (tag == 0 || pend.front().tag <= tag)) {
                auto& p = pend.front();
                complete(p.done, outcome(p));
                pend.pop_front();
            }
            return;
        }
        auto it = std::lower_bound(pend.begin(), pend.end(), tag,
                                   [](const pending& p, std::uint64_t t) { return p.tag < t; });
        // Not found: it expired already (completed `unavailable`); the late confirm is ignored.
        if (it != pend.end() && it->tag == tag) complete(it->done, outcome(*it));
        pop_completed();
    }

    void on_return(detail::connection& c, const amqp_basic_return_t* ret) {
        std::string reason = ret ? std::to_string(ret->reply_code) + " " + bytes_text(ret->reply_text) : "";
        // A retry queue that vanished (deleted by hand, or expired) is declared again next time.
        if (ret) retry_declared.erase(bytes_text(ret->routing_key));
        amqp_message_t m;
        auto reply = amqp_read_message(c.get(), detail::channel, &m, 0);
        c.check(reply, "read returned message");
        message_guard guard{m};
        std::string id = (m.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) ? bytes_text(m.properties.message_id) : "";
        // Returns come in publish order, before the ack of the same message: the first live,
        // not yet returned entry with this id is the one.
        for (auto& p : pend) {
            if (p.done && !p.returned && p.message_id == id) {
                p.returned = true;
                break;
            }
        }
        PFO3_LOG(warn, "broker returned a task as unroutable; it was NOT accepted",
                 {{"task_id", id}, {"reason", reason}});
    }

    void read_frames(detail::connection& c) {
        for (;;) {
            amqp_frame_t f;
            timeval zero{0, 0};
            int st = amqp_simple_wait_frame_noblock(c.get(), &f, &zero);
            if (st == AMQP_STATUS_TIMEOUT) return;
            c.check(st, "read from broker");
            last_rx = clock::now();
            if (f.frame_type != AMQP_FRAME_METHOD) continue;
            const amqp_method_t& m = f.payload.method;
            switch (m.id) {
            case AMQP_BASIC_ACK_METHOD: {
                auto* a = static_cast<const amqp_basic_ack_t*>(m.decoded);
                settle(a->delivery_tag, a->multiple, true);
                break;
            }
            case AMQP_BASIC_NACK_METHOD: {
                auto* n = static_cast<const amqp_basic_nack_t*>(m.decoded);
                settle(n->delivery_tag, n->multiple, false);
                break;
            }
            case AMQP_BASIC_RETURN_METHOD:
                on_return(c, static_cast<const amqp_basic_return_t*>(m.decoded));
                break;
            case AMQP_CHANNEL_CLOSE_METHOD:
            case AMQP_CONNECTION_CLOSE_METHOD: {
                auto err = detail::make_close_error(m, "publish", c.peer());
                c.answer_close(m);
                throw err;
            }
            case AMQP_CONNECTION_BLOCKED_METHOD: {
                auto* b = static_cast<const amqp_connection_blocked_t*>(m.decoded);
                blocked = true;
                PFO3_LOG(warn, "broker blocked publishing (resource alarm); tasks are NOT accepted until it clears",
                         {{"url", c.peer()}, {"reason", b ? bytes_text(b->reason) : ""}});
                break;
            }
            case AMQP_CONNECTION_UNBLOCKED_METHOD:
                blocked = false;
                PFO3_LOG(info, "broker unblocked publishing", {{"url", c.peer()}});
                break;
            default:
                PFO3_LOG(debug, "ignored a frame from the broker", {{"method", amqp_method_name(m.id)}});
            }
            amqp_maybe_release_buffers(c.get());
        }
    }

    void expire(clock::time_point now) {
        while (!pend.empty() && (!pend.front().done || pend.front().deadline <= now)) {
            auto& p = pend.front();
            if (p.done) {
                PFO3_LOG(warn, "no confirm from the broker in time; the task was NOT accepted",
                         {{"task_id", p.message_id}});
                complete(p.done, publish_outcome::unavailable);
            }
            pend.pop_front();
        }
    }

    // Runs one connection until it is lost (throws service_error) or a stop finishes it.
    void serve(detail::connection& c) {
        last_rx = clock::now();
        const auto hb = std::chrono::seconds(c.heartbeat());
        for (;;) {
            const bool stop = stopping.load();
            clock::time_point stop_at = clock::time_point::max();
            if (stop) {
                std::lock_guard lk(mu);
                stop_at = stop_deadline;
            }
            // Past the grace period nothing more is written: run() completes what is left
            // `unavailable`, and for the unpublished ones that is the plain truth.
            if (stop && clock::now() >= stop_at) return;
            auto batch = take_queue();
            publish_batch(c, batch);
            read_frames(c);
            auto now = clock::now();
            expire(now);
            if (stop) {
                std::lock_guard lk(mu);
                if (queue.empty() && live_pending() == 0) return;
            }
            if (hb.count() > 0 && now - last_rx > 2 * hb)
                throw service_error("publish on " + c.peer() + ": no heartbeat from the broker for " +
                                        std::to_string(2 * hb.count()) + " s",
                                    true);
            auto wait_until = now + detail::max_poll_interval;
            if (!pend.empty()) wait_until = std::min(wait_until, pend.front().deadline);
            wait_until = std::min(wait_until, stop_at);
            auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(wait_until - now) +
                           std::chrono::milliseconds(1);
            // Frames rabbitmq-c already holds would not make the socket readable.
            if (amqp_frames_enqueued(c.get()) || amqp_data_in_buffer(c.get())) timeout = std::chrono::milliseconds(0);
            if (detail::wait_readable(c.fd(), wake, timeout)) last_rx = clock::now();
            wake.drain();
        }
    }

    void run() {
        backoff retry(backoff_policy{std::chrono::milliseconds(100), 2.0, std::chrono::milliseconds(5000), 0.2});
        bool outage = false;
        const std::string url = opts.url.masked();
        while (!stopping.load()) {
            std::unique_ptr<detail::connection> c;
            try {
                c = std::make_unique<detail::connection>(opts.url, opts.connection_name, detail::heartbeat_seconds);
                c->declare(opts.topo);
                amqp_confirm_select(c->get(), detail::channel);
                c->check(amqp_get_rpc_reply(c->get()), "confirm.select");
            } catch (const std::exception& e) {
                c.reset();
                bool retryable = true;
                if (auto* se = dynamic_cast<const service_error*>(&e)) retryable = se->retryable();
                if (!outage) {
                    if (retryable)
                        PFO3_LOG(warn, "cannot connect to the broker; tasks are NOT accepted until it is back, retrying",
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
            next_tag = 1;
            blocked = false;
            retry_declared.clear();
            set_connected(true);
            if (outage) PFO3_LOG(info, "reconnected to the broker", {{"url", url}});
            else PFO3_LOG(info, "connected to the broker", {{"url", url}, {"queue", opts.topo.queue}});
            outage = false;
            retry.reset();
            try {
                serve(*c);
                set_connected(false);
                auto left = live_pending();
                if (left > 0)
                    PFO3_LOG(warn, "stopping with unconfirmed tasks; they were NOT accepted",
                             {{"count", std::to_string(left)}});
                fail_pending();
                c->close();
            } catch (const std::exception& e) {
                set_connected(false);
                PFO3_LOG(warn, "lost the broker connection; unconfirmed tasks were NOT accepted, reconnecting",
                         {{"url", url}, {"error", e.what()}, {"unconfirmed", std::to_string(live_pending())}});
                fail_pending();
                outage = true;
                c.reset();
                if (!stopping.load()) idle_wait(retry.next());
            }
        }
        fail_pending();
        std::vector<request> rest;
        {
            std::lock_guard lk(mu);
            finished = true;
            connected.store(false);
            rest.swap(queue);
        }
        cv.notify_all();
        for (auto& r : rest) complete(r.done, publish_outcome::unavailable);
    }
};

publisher::publisher(publisher_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

publisher::~publisher() { stop(std::chrono::milliseconds(0)); }

void publisher::start() {
    std::lock_guard lk(impl_->stop_mu);
    if (impl_->thread.joinable() || impl_->stopping.load()) return;
    impl_->thread = std::thread([this] { impl_->run(); });
}

bool publisher::wait_connected(std::chrono::milliseconds timeout) {
    std::unique_lock lk(impl_->mu);
    impl_->cv.wait_for(lk, timeout, [this] { return impl_->connected.load() || impl_->finished; });
    return impl_->connected.load();
}

bool publisher::connected() const noexcept { return impl_->connected.load(); }

std::size_t publisher::outstanding() const noexcept { return impl_->outstanding.load(); }

void publisher::publish(outgoing_message msg, completion done) {
    if (!done) done = [](publish_outcome) {};
    auto& s = *impl_;
    if (s.stopping.load() || !s.connected.load()) {
        done(publish_outcome::unavailable);
        return;
    }
    if (s.outstanding.fetch_add(1, std::memory_order_acq_rel) >= s.opts.max_unconfirmed) {
        s.outstanding.fetch_sub(1, std::memory_order_acq_rel);
        done(publish_outcome::overloaded);
        return;
    }
    bool first;
    {
        std::unique_lock lk(s.mu);
        if (s.stop_requested || s.finished) {
            lk.unlock();
            s.outstanding.fetch_sub(1, std::memory_order_acq_rel);
            done(publish_outcome::unavailable);
            return;
        }
        // The owner takes the whole queue at once: only the first publish since then wakes it.
        first = s.queue.empty();
        s.queue.push_back(impl::request{std::move(msg), std::move(done)});
    }
    if (first) s.wake.notify();
}

void publisher::stop(std::chrono::milliseconds grace) {
    auto& s = *impl_;
    std::lock_guard stop_lk(s.stop_mu);
    {
        std::lock_guard lk(s.mu);
        if (!s.stop_requested) {
            s.stop_requested = true;
            s.stop_deadline = clock::now() + grace;
        }
    }
    s.stopping.store(true);
    s.wake.notify();
    if (s.thread.joinable()) s.thread.join();
}

}  // namespace pfo3::queue
