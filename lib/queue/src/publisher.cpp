// Design of the publisher (the AMQP core of `pfo3 serve`):
//
// - One private owner thread (a detail::session) owns the connection (rabbitmq-c is not
//   thread-safe). publish() from any thread appends to a mutex-protected vector and wakes it;
//   the owner poll()s the wake-up and the AMQP socket (timeout <= 500 ms, so heartbeats go out
//   and deadlines fire on time).
// - Each loop: publish everything queued, then read every confirm already buffered or readable
//   (connection::read_confirm with no wait, which also drains rabbitmq-c's own frame queue
//   first and sends a heartbeat when one is due), then expire deadlines, then poll.
// - On a plain TCP connection a batch's frames are encoded by pfo3 (publish_frames.hpp) and
//   written with one send() per 256 KiB instead of three per message; under TLS each message
//   goes through amqp_basic_publish (connection::publish decides).
// - Pending publishes sit in a deque in delivery-tag order (tags are 1, 2, ... per channel
//   once confirm.select is on). basic.ack / basic.nack settle one tag or, with `multiple`,
//   every tag up to it. basic.return (we publish with mandatory) is followed by the returned
//   message and then by the ack for it: we mark the entry `returned` by message_id and the ack
//   completes it as `unroutable`. Each entry has a deadline (confirm_timeout); past it, it
//   completes `unavailable` and a late confirm finds nothing and is ignored.
// - Rejections that need no broker (not connected, stopping, over max_unconfirmed) complete
//   inline in publish(), so a caller never waits for a reconnect attempt to hear "no".
// - Connection lost (socket error, heartbeat timeout, channel.close, connection.close): every
//   pending entry completes `unavailable` and the session reconnects (amqp_session.hpp).
// - connection.blocked (broker memory/disk alarm): publishing would stall the owner thread in
//   a blocking write, so while blocked messages complete `unavailable` at once.
// - A sent publish that ends without a confirm (connection lost, timeout, nack) may still
//   be in the queue: its id is remembered (in_doubt_ids.hpp, bounded), and a later publish
//   of the same id (a client's resubmission, a worker's retry of a publish) carries the
//   header `pfo3-maybe-copy`, so the worker checks the store before running it (issue 15).
// - Every completion runs exactly once: it is moved out of its entry before being called and
//   `outstanding()` counts the publishes not yet completed.
// - Retries and delayed tasks wait on the delay ladder (decision 0012), whose levels are
//   declared lazily: the first publish that passes a level on a connection declares it (one
//   RPC on the owner thread; confirms arriving meanwhile are queued by rabbitmq-c and read in
//   the next read_confirms). Since the ladder, no `<queue>.retry.<ms>` queue is declared.
#include "pfo3/queue/publisher.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "amqp_session.hpp"
#include "delay_ladder.hpp"
#include "in_doubt_ids.hpp"
#include "nack_streak.hpp"
#include "url_rotation.hpp"
#include "pfo3/core/log.hpp"

namespace pfo3::queue {

namespace {

using detail::clock;

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

detail::session_options session_options_of(const publisher_options& o) {
    return {detail::with_urls(o.url, o.failover), o.connection_name, o.topo.queue, "publish", "tasks are NOT accepted",
            "unconfirmed tasks were NOT accepted", "unconfirmed", o.stats};
}

}  // namespace

struct publisher::impl final : detail::session {
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

    explicit impl(publisher_options o) : session(session_options_of(o)), opts(std::move(o)) {}
    ~impl() override { stop(); }

    publisher_options opts;

    // Shared with other threads.
    mutable std::mutex mu;
    std::condition_variable cv;
    std::vector<request> queue;  // guarded by mu
    bool stop_requested = false;  // guarded by mu
    bool finished = false;        // guarded by mu: the owner thread has completed everything
    clock::time_point stop_deadline;  // guarded by mu
    std::atomic<bool> connected{false};
    std::atomic<std::size_t> outstanding{0};

    // Owner thread only.
    std::deque<pending> pend;
    bool blocked = false;
    detail::nack_streak nacks;
    detail::in_doubt_ids in_doubt;  // ids published without a confirm, across connections
    int delay_levels_declared = 0;  // this connection's: levels [0, n) of the delay ladder

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

    // A sent publish completed without the broker taking it for sure: the message may be in
    // the queue all the same, so a later publish of its id is marked as a possible copy.
    void complete_in_doubt(pending& p, publish_outcome o) {
        if (!p.done) return;
        in_doubt.add(p.message_id, clock::now());
        complete(p.done, o);
    }

    void fail_pending() {
        for (auto& p : pend) complete_in_doubt(p, publish_outcome::unavailable);
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

    // Publishes a batch; if the connection fails midway, what was not written yet completes
    // `unavailable` too (the rest of pend is failed by the connection-lost path).
    void publish_batch(detail::connection& c, std::vector<request>& batch) {
        for (std::size_t i = 0; i < batch.size(); ++i) {
            try {
                publish_one(c, batch[i]);
            } catch (...) {
                // Message i may have left in part: in doubt (the rest never left).
                in_doubt.add(batch[i].msg.message_id, clock::now());
                for (std::size_t j = i; j < batch.size(); ++j) complete(batch[j].done, publish_outcome::unavailable);
                throw;
            }
        }
        c.flush();
    }

    // Declares the ladder's levels a delay of `units` passes, unless this connection did; returns
    // the exchange to publish it to (decision 0012).
    std::string delay_route(detail::connection& c, std::int64_t units) {
        const int levels = delay_levels(units);
        if (levels > delay_levels_declared) {
            detail::declare_delay_levels(c, opts.topo, delay_levels_declared, levels);
            delay_levels_declared = levels;
        }
        return opts.topo.delay_level(levels - 1);
    }

    void publish_one(detail::connection& c, request& r) {
        if (blocked) {
            complete(r.done, publish_outcome::unavailable);
            return;
        }
        const detail::task_properties p(r.msg.message_id, r.msg.type, r.msg.timestamp, r.msg.expiration_ms,
                                        r.msg.priority, in_doubt.contains(r.msg.message_id, clock::now()));
        std::uint64_t tag;
        if (r.msg.delay_units > 0) {
            tag = c.publish_to(delay_route(c, r.msg.delay_units), delay_routing_key(r.msg.delay_units), p.get(),
                               r.msg.body);
        } else {
            tag = c.publish(r.msg.routing_key, p.get(), r.msg.body);
        }
        // In pend before its bytes (buffered by the connection) leave: if a later write fails,
        // the connection-lost path completes it with the others.
        pend.push_back(pending{tag, r.msg.message_id, clock::now() + opts.confirm_timeout, std::move(r.done)});
    }

    void settle(const detail::confirm& ev) {
        if (ev.what == detail::confirm::kind::ack) nacks.acked();
        auto outcome = [&ev](const pending& p) {
            if (ev.what == detail::confirm::kind::nack) return publish_outcome::nacked;
            return p.returned ? publish_outcome::unroutable : publish_outcome::confirmed;
        };
        // A nack is in doubt too: RabbitMQ 3.10 nacks around a quorum queue's failover.
        auto settle_one = [&](pending& p) {
            const auto o = outcome(p);
            if (o == publish_outcome::nacked) return complete_in_doubt(p, o);
            complete(p.done, o);
        };
        if (ev.multiple) {
            std::size_t n = 0;
            while (!pend.empty() && ev.covers(pend.front().tag)) {
                auto& p = pend.front();
                n += p.done ? 1 : 0;
                settle_one(p);
                pend.pop_front();
            }
            if (ev.what == detail::confirm::kind::nack) nacks.nacked(std::max<std::size_t>(n, 1), clock::now());
            return;
        }
        if (ev.what == detail::confirm::kind::nack) nacks.nacked(1, clock::now());
        auto it = std::lower_bound(pend.begin(), pend.end(), ev.tag,
                                   [](const pending& p, std::uint64_t t) { return p.tag < t; });
        // Not found: it expired already (completed `unavailable`); the late confirm is ignored.
        if (it != pend.end() && it->tag == ev.tag) settle_one(*it);
        pop_completed();
    }

    void on_return(const detail::confirm& ev) {
        // Returns come in publish order, before the ack of the same message: the first live,
        // not yet returned entry with this id is the one.
        for (auto& p : pend) {
            if (p.done && !p.returned && p.message_id == ev.message_id) {
                p.returned = true;
                break;
            }
        }
        PFO3_LOG(warn, "broker returned a task as unroutable; it was NOT accepted",
                 {{"task_id", ev.message_id}, {"reason", ev.reason}});
    }

    // Everything the broker has sent so far.
    void read_confirms(detail::connection& c) {
        while (auto ev = c.read_confirm(clock::time_point{}, "publish")) {
            switch (ev->what) {
            case detail::confirm::kind::ack:
            case detail::confirm::kind::nack:
                settle(*ev);
                if (nacks.stuck())
                    throw service_error("publish on " + c.peer() + ": the broker nacked " +
                                            std::to_string(nacks.count()) +
                                            " publishes in a row and acked none (a channel left stuck by a "
                                            "failover, or a full queue); connecting again",
                                        true);
                break;
            case detail::confirm::kind::returned: on_return(*ev); break;
            case detail::confirm::kind::blocked:
                blocked = true;
                PFO3_LOG(warn, "broker blocked publishing (resource alarm); tasks are NOT accepted until it clears",
                         {{"url", c.peer()}, {"reason", ev->reason}});
                break;
            case detail::confirm::kind::unblocked:
                blocked = false;
                PFO3_LOG(info, "broker unblocked publishing", {{"url", c.peer()}});
                break;
            }
        }
    }

    void expire(clock::time_point now) {
        while (!pend.empty() && (!pend.front().done || pend.front().deadline <= now)) {
            auto& p = pend.front();
            if (p.done) {
                PFO3_LOG(warn, "no confirm from the broker in time; the task was NOT accepted",
                         {{"task_id", p.message_id}});
                if (opts.stats) opts.stats->confirm_timeouts.fetch_add(1, std::memory_order_relaxed);
                complete_in_doubt(p, publish_outcome::unavailable);
            }
            pend.pop_front();
        }
    }

    // session steps, on the owner thread.

    void set_up(detail::connection& c) override {
        nacks.reset();
        c.declare(opts.topo);
        c.confirm_select();
    }

    void on_up() override {
        blocked = false;
        delay_levels_declared = 0;
        set_connected(true);
    }

    // Runs one connection until it is lost (throws service_error) or a stop finishes it.
    void serve(detail::connection& c) override {
        for (;;) {
            const bool stop = stopping();
            clock::time_point stop_at = clock::time_point::max();
            if (stop) {
                std::lock_guard lk(mu);
                stop_at = stop_deadline;
            }
            // Past the grace period nothing more is written: on_down() and on_finish() complete
            // what is left `unavailable`, and for the unpublished ones that is the plain truth.
            if (stop && clock::now() >= stop_at) return;
            auto batch = take_queue();
            publish_batch(c, batch);
            read_confirms(c);
            expire(clock::now());
            if (stop) {
                std::lock_guard lk(mu);
                if (queue.empty() && live_pending() == 0) return;
            }
            wait(c, std::min(pend.empty() ? clock::time_point::max() : pend.front().deadline, stop_at));
        }
    }

    void on_down(bool lost) override {
        set_connected(false);
        const auto left = live_pending();
        if (!lost && left > 0)
            PFO3_LOG(warn, "stopping with unconfirmed tasks; they were NOT accepted", {{"count", std::to_string(left)}});
        fail_pending();
    }

    std::size_t in_flight() const override { return live_pending(); }

    void while_down() override {
        for (auto& r : take_queue()) complete(r.done, publish_outcome::unavailable);
    }

    void on_finish() override {
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

void publisher::start() { impl_->start(); }

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
    if (s.stopping() || !s.connected.load()) {
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
    if (first) s.notify();
}

void publisher::stop(std::chrono::milliseconds grace) {
    auto& s = *impl_;
    {
        std::lock_guard lk(s.mu);
        if (!s.stop_requested) {
            s.stop_requested = true;
            s.stop_deadline = clock::now() + grace;
        }
    }
    s.stop();
}

}  // namespace pfo3::queue
