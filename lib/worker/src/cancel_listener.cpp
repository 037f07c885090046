#include "pfo3/worker/cancel_listener.hpp"

#include <condition_variable>
#include <mutex>
#include <string>

#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/json/cancel_event.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/queue/queue_admin.hpp"

namespace pfo3::worker {

namespace {

// How soon a running task hears its cancel, at most (plus the broker's round trip).
constexpr std::chrono::milliseconds poll_period{100};
constexpr std::chrono::seconds reconnect_wait{2};
// A cancel older than this is in the store for the next listing anyway.
constexpr std::chrono::milliseconds event_ttl{600000};
// Events taken in one go before the stop flag is looked at again.
constexpr std::size_t max_per_poll = 10000;
const std::chrono::milliseconds stop_wait{2000};

}  // namespace

std::size_t load_pending_cancels(store::result_store& store, cancel_board& board, std::size_t limit) {
    auto pending = store.pending_cancels(limit);
    for (const auto& p : pending) board.cancel(p.id, p.why);
    return pending.size();
}

struct cancel_listener::state {
    std::shared_ptr<cancel_board> board;
    broker_picker broker;
    store_opener open_store;
    std::size_t max_pending = 0;
    std::mutex mu;
    std::condition_variable wake;
    bool stop = false;
    bool exited = false;
    std::condition_variable done;

    // Waits `d` or until stopped; true if stopped.
    bool pause(std::chrono::milliseconds d) {
        std::unique_lock lk(mu);
        return wake.wait_for(lk, d, [this] { return stop; });
    }
};

cancel_listener::cancel_listener(std::shared_ptr<cancel_board> board, broker_picker broker, store_opener open_store,
                                 std::size_t max_pending)
    : state_(std::make_shared<state>()) {
    state_->board = std::move(board);
    state_->broker = std::move(broker);
    state_->open_store = std::move(open_store);
    state_->max_pending = max_pending;
}

cancel_listener::~cancel_listener() { stop(); }

void cancel_listener::preload(store::result_store& store) {
    try {
        const auto n = load_pending_cancels(store, *state_->board, state_->max_pending);
        if (n) PFO3_LOG(info, "pending cancels loaded from the store", {{"count", std::to_string(n)}});
    } catch (const std::exception& e) {
        PFO3_LOG(warn, "cannot list pending cancels from the store before consuming; tasks cancelled while no "
                       "worker ran may run",
                 {{"store", store.describe()}, {"error", e.what()}});
    }
}

void cancel_listener::start() {
    thread_ = std::thread([st = state_] {
        listen(st);
        std::lock_guard lk(st->mu);
        st->exited = true;
        st->done.notify_all();
    });
}

void cancel_listener::stop() {
    bool exited;
    {
        std::unique_lock lk(state_->mu);
        state_->stop = true;
        state_->wake.notify_all();
        exited = state_->done.wait_for(lk, stop_wait, [this] { return state_->exited; });
    }
    if (!thread_.joinable()) return;
    if (exited) thread_.join();
    else thread_.detach();  // stuck on the broker or the store; it owns what it touches
}

void cancel_listener::listen(const std::shared_ptr<state>& st) {
    std::unique_ptr<store::result_store> store;
    bool warned = false;
    bool listing_unsupported = false;
    std::size_t connects = 0;
    while (!st->pause(std::chrono::milliseconds(0))) {
        try {
            queue::queue_admin admin(st->broker(connects++), "pfo3-work-cancels " + ops::process_identity());
            const std::string exchange(json::cancel_exchange);
            admin.declare_fanout(exchange);
            const std::string q = admin.declare_listener(exchange, event_ttl);
            // After binding: a cancel stored before is listed, one stored after is heard.
            if (!listing_unsupported) {
                try {
                    if (!store) store = st->open_store();
                    const auto n = load_pending_cancels(*store, *st->board, st->max_pending);
                    if (n) PFO3_LOG(info, "pending cancels loaded from the store", {{"count", std::to_string(n)}});
                } catch (const service_error& e) {
                    store.reset();
                    if (!e.retryable()) {
                        listing_unsupported = true;
                        PFO3_LOG(warn, "cannot list pending cancels from the store; only cancel events are heard "
                                       "(a cancel made while this worker was away may not be seen)",
                                 {{"error", e.what()}});
                    } else {
                        throw;  // the broker connection is made again, and the listing tried again
                    }
                }
            }
            if (warned) PFO3_LOG(info, "listening to cancel events again");
            warned = false;
            for (;;) {
                std::size_t n = 0;
                while (n++ < max_per_poll) {
                    auto m = admin.get(q);
                    if (!m) break;
                    json::cancel_event ev;
                    std::string why;
                    if (json::decode_cancel_event(m->body, ev, why)) {
                        // Rare, and what an operator looks for when a task did or did not stop.
                        PFO3_LOG(info, "cancel heard", {{"task_id", ev.id}});
                        st->board->cancel(ev.id, ev.why);
                    } else {
                        PFO3_LOG(debug, "ignored a message on pfo3.cancels that is no cancel event", {{"error", why}});
                    }
                    admin.ack(m->tag);
                }
                if (st->pause(poll_period)) return;
            }
        } catch (const std::exception& e) {
            if (!warned)
                PFO3_LOG(warn, "cannot listen to cancel events; retrying (queued tasks cancelled meanwhile are "
                               "listed from the store on reconnect)",
                         {{"error", e.what()}});
            warned = true;
        }
        if (st->pause(reconnect_wait)) return;
    }
}

}  // namespace pfo3::worker
