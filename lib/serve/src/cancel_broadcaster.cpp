#include "pfo3/serve/cancel_broadcaster.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "pfo3/core/log.hpp"
#include "pfo3/json/cancel_event.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/queue/queue_admin.hpp"

namespace pfo3::serve {

namespace {

constexpr std::chrono::milliseconds confirm_timeout{5000};
constexpr std::chrono::seconds reconnect_wait{1};
const std::chrono::milliseconds stop_wait{2000};

}  // namespace

struct cancel_broadcaster::state {
    broker_picker broker;
    std::mutex mu;
    std::condition_variable wake;
    std::condition_variable done;
    std::deque<json::cancel_event> waiting;  // guarded by mu
    bool stop = false;                        // guarded by mu
    bool exited = false;                      // guarded by mu
};

cancel_broadcaster::cancel_broadcaster(broker_picker broker) : state_(std::make_shared<state>()) {
    state_->broker = std::move(broker);
}

cancel_broadcaster::~cancel_broadcaster() { stop(); }

void cancel_broadcaster::start() {
    thread_ = std::thread([st = state_] {
        run(st);
        std::lock_guard lk(st->mu);
        st->exited = true;
        st->done.notify_all();
    });
}

void cancel_broadcaster::stop() {
    bool exited;
    std::size_t dropped;
    {
        std::unique_lock lk(state_->mu);
        state_->stop = true;
        state_->wake.notify_all();
        exited = state_->done.wait_for(lk, stop_wait, [this] { return state_->exited || !thread_.joinable(); });
        dropped = state_->waiting.size();
        state_->waiting.clear();
    }
    if (dropped)
        PFO3_LOG(warn, "cancel events not sent at stop (the cancels are stored: a running task goes on running)",
                 {{"count", std::to_string(dropped)}});
    if (!thread_.joinable()) return;
    if (exited) thread_.join();
    else thread_.detach();
}

std::function<void(const std::string&, const std::string&)> cancel_broadcaster::announcer() const {
    return [st = state_](const std::string& id, const std::string& why) {
        bool stopped;
        {
            std::lock_guard lk(st->mu);
            stopped = st->stop;
            if (!stopped && st->waiting.size() < max_waiting) {
                st->waiting.push_back({id, why});
                st->wake.notify_one();
                return;
            }
        }
        PFO3_LOG(warn, stopped ? "serve is stopping: a cancel event is not sent (the cancel is stored; a running task "
                                 "goes on running)"
                               : "too many cancel events waiting: this one is not sent (the cancel is stored; a "
                                 "running task goes on running)",
                 {{"task_id", id}});
    };
}

void cancel_broadcaster::run(const std::shared_ptr<state>& st) {
    const std::string exchange(json::cancel_exchange);
    std::unique_ptr<queue::queue_admin> admin;
    std::size_t connects = 0;
    bool warned = false;
    for (;;) {
        json::cancel_event ev;
        {
            std::unique_lock lk(st->mu);
            st->wake.wait(lk, [&] { return st->stop || !st->waiting.empty(); });
            if (st->stop) return;
            ev = st->waiting.front();
        }
        bool sent = false;
        try {
            if (!admin) {
                admin = std::make_unique<queue::queue_admin>(st->broker(connects++),
                                                             "pfo3-serve-cancels " + ops::process_identity());
                admin->declare_fanout(exchange);
            }
            const auto o = admin->publish_event(exchange, json::encode_cancel_event(ev), ev.id, confirm_timeout);
            // Unroutable: no worker listens now; they list the store when they start.
            sent = o == queue::publish_outcome::confirmed || o == queue::publish_outcome::unroutable;
            if (!sent) admin.reset();
        } catch (const std::exception& e) {
            admin.reset();
            if (!warned)
                PFO3_LOG(warn, "cannot send a cancel event; trying again", {{"task_id", ev.id}, {"error", e.what()}});
            warned = true;
        }
        std::unique_lock lk(st->mu);
        if (sent) {
            if (warned) PFO3_LOG(info, "cancel events are sent again");
            warned = false;
            PFO3_LOG(debug, "cancel event sent", {{"task_id", ev.id}});
            st->waiting.pop_front();
        } else if (st->wake.wait_for(lk, reconnect_wait, [&] { return st->stop; })) {
            return;
        }
    }
}

}  // namespace pfo3::serve
