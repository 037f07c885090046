#include "pfo3/sight/queue_watch.hpp"

#include "pfo3/core/log.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/queue/queue_admin.hpp"

namespace pfo3::sight {

struct queue_watch::state {
    std::vector<std::string> names;
    std::chrono::seconds period;
    broker_picker broker;
    mutable std::mutex mu;
    std::condition_variable wake;
    bool stop = false;
    std::vector<std::int64_t> messages, consumers;  // -1: unknown; guarded by mu
};

queue_watch::queue_watch(std::vector<std::string> queues, std::chrono::seconds period, broker_picker broker)
    : state_(std::make_shared<state>()) {
    state_->messages.assign(queues.size(), -1);
    state_->consumers.assign(queues.size(), -1);
    state_->names = std::move(queues);
    state_->period = period;
    state_->broker = std::move(broker);
}

queue_watch::~queue_watch() { stop(); }

void queue_watch::start() {
    thread_ = std::thread([st = state_] { run(st); });
}

void queue_watch::stop() {
    {
        std::lock_guard lk(state_->mu);
        state_->stop = true;
    }
    state_->wake.notify_all();
    if (thread_.joinable()) thread_.detach();  // owns its state; may be stuck on the broker
}

std::string queue_watch::json() const {
    std::lock_guard lk(state_->mu);
    std::string out = "[";
    auto number = [](std::int64_t v) { return v < 0 ? std::string("null") : std::to_string(v); };
    for (std::size_t i = 0; i < state_->names.size(); ++i)
        out += (i ? ",{\"name\":" : "{\"name\":") + json::quote(state_->names[i]) +
               ",\"messages\":" + number(state_->messages[i]) + ",\"consumers\":" + number(state_->consumers[i]) + "}";
    return out + "]";
}

std::int64_t queue_watch::messages(std::size_t i) const {
    std::lock_guard lk(state_->mu);
    return i < state_->messages.size() ? state_->messages[i] : -1;
}

void queue_watch::run(const std::shared_ptr<state>& st) {
    std::unique_ptr<queue::queue_admin> admin;
    std::size_t connects = 0;
    bool warned = false;
    for (;;) {
        for (std::size_t i = 0; i < st->names.size(); ++i) {
            std::int64_t m = -1, c = -1;
            try {
                if (!admin)
                    admin = std::make_unique<queue::queue_admin>(st->broker(connects++),
                                                                 "pfo3-serve-queues " + ops::process_identity());
                const auto info = admin->inspect(st->names[i]);
                m = info.messages;
                c = info.consumers;
                warned = false;
            } catch (const std::exception& e) {
                admin.reset();  // a failed passive declare closes the channel: start afresh
                if (!warned) PFO3_LOG(warn, "status page: cannot read a queue's depth", {{"queue", st->names[i]}, {"error", e.what()}});
                warned = true;
            }
            std::lock_guard lk(st->mu);
            st->messages[i] = m;
            st->consumers[i] = c;
        }
        std::unique_lock lk(st->mu);
        if (st->wake.wait_for(lk, st->period, [&st] { return st->stop; })) return;
    }
}

}  // namespace pfo3::sight
