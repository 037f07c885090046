#include "pfo3/queue/fanout_listener.hpp"

#include <condition_variable>
#include <mutex>

#include "pfo3/core/log.hpp"
#include "pfo3/queue/queue_admin.hpp"

namespace pfo3::queue {

struct fanout_listener::state {
    fanout_listener_options o;
    broker_picker broker;
    message_fn on_message;
    bound_fn on_bound;
    idle_fn on_idle;
    std::mutex mu;
    std::condition_variable wake;
    std::condition_variable done;
    bool stop = false;    // guarded by mu
    bool exited = false;  // guarded by mu

    // Waits `d` or until stopped; true if stopped.
    bool pause(std::chrono::milliseconds d) {
        std::unique_lock lk(mu);
        return wake.wait_for(lk, d, [this] { return stop; });
    }
};

fanout_listener::fanout_listener(fanout_listener_options o, broker_picker broker, message_fn on_message,
                                 bound_fn on_bound, idle_fn on_idle)
    : state_(std::make_shared<state>()) {
    state_->o = std::move(o);
    state_->broker = std::move(broker);
    state_->on_message = std::move(on_message);
    state_->on_bound = std::move(on_bound);
    state_->on_idle = std::move(on_idle);
}

fanout_listener::~fanout_listener() { stop(); }

void fanout_listener::start() {
    thread_ = std::thread([st = state_] {
        listen(st);
        std::lock_guard lk(st->mu);
        st->exited = true;
        st->done.notify_all();
    });
}

void fanout_listener::stop() {
    bool exited;
    {
        std::unique_lock lk(state_->mu);
        state_->stop = true;
        state_->wake.notify_all();
        exited = !thread_.joinable() || state_->done.wait_for(lk, state_->o.stop_wait, [this] { return state_->exited; });
    }
    if (!thread_.joinable()) return;
    if (exited) thread_.join();
    else thread_.detach();  // stuck on the broker (or in a callback); it owns what it touches
}

void fanout_listener::listen(const std::shared_ptr<state>& st) {
    const auto& o = st->o;
    bool warned = false;
    std::size_t connects = 0;
    while (!st->pause(std::chrono::milliseconds(0))) {
        try {
            queue_admin admin(st->broker(connects++), o.connection_name);
            admin.declare_fanout(o.exchange);
            const std::string q = admin.declare_listener(o.exchange, o.message_ttl);
            if (st->on_bound) st->on_bound();
            if (warned) PFO3_LOG(info, "listening to " + o.what + " again");
            warned = false;
            for (;;) {
                std::size_t n = 0;
                while (n++ < o.max_per_poll) {
                    auto m = admin.get(q);
                    if (!m) break;
                    st->on_message(m->body);
                    admin.ack(m->tag);
                }
                if (st->on_idle) st->on_idle();
                if (st->pause(o.poll_period)) return;
            }
        } catch (const std::exception& e) {
            if (!warned)
                PFO3_LOG(warn, "cannot listen to " + o.what + "; retrying" + (o.lost_note.empty() ? "" : " (" + o.lost_note + ")"),
                         {{"error", e.what()}});
            warned = true;
        }
        if (st->pause(o.reconnect_wait)) return;
    }
}

}  // namespace pfo3::queue
