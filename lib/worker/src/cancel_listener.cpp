#include "pfo3/worker/cancel_listener.hpp"

#include <string>

#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/json/cancel_event.hpp"
#include "pfo3/ops/identity.hpp"

namespace pfo3::worker {

namespace {

queue::fanout_listener_options listener_options() {
    queue::fanout_listener_options o;
    o.exchange = std::string(json::cancel_exchange);
    o.connection_name = "pfo3-work-cancels " + ops::process_identity();
    o.what = "cancel events";
    o.lost_note = "queued tasks cancelled meanwhile are listed from the store on reconnect";
    o.message_ttl = std::chrono::milliseconds(600000);  // older: in the store for the next listing anyway
    o.poll_period = std::chrono::milliseconds(100);     // how soon a running task hears its cancel, at most
    return o;
}

// The listing after each bind, on the listener's thread: its store handle, kept between binds.
struct store_listing {
    std::shared_ptr<cancel_board> board;
    cancel_listener::store_opener open_store;
    std::size_t max_pending = 0;
    std::unique_ptr<store::result_store> store;
    bool unsupported = false;

    void operator()() {
        if (unsupported) return;
        try {
            if (!store) store = open_store();
            const auto n = load_pending_cancels(*store, *board, max_pending);
            if (n) PFO3_LOG(info, "pending cancels loaded from the store", {{"count", std::to_string(n)}});
        } catch (const service_error& e) {
            store.reset();
            if (e.retryable()) throw;  // the broker connection is made again, and the listing tried again
            unsupported = true;
            PFO3_LOG(warn, "cannot list pending cancels from the store; only cancel events are heard "
                           "(a cancel made while this worker was away may not be seen)",
                     {{"error", e.what()}});
        }
    }
};

}  // namespace

std::size_t load_pending_cancels(store::result_store& store, cancel_board& board, std::size_t limit) {
    auto pending = store.pending_cancels(limit);
    for (const auto& p : pending) board.cancel(p.id, p.why);
    return pending.size();
}

cancel_listener::cancel_listener(std::shared_ptr<cancel_board> board, broker_picker broker, store_opener open_store,
                                 std::size_t max_pending)
    : board_(board),
      max_pending_(max_pending),
      listener_(
          listener_options(), std::move(broker),
          [board](std::string_view body) {
              json::cancel_event ev;
              std::string why;
              if (json::decode_cancel_event(body, ev, why)) {
                  // Rare, and what an operator looks for when a task did or did not stop.
                  PFO3_LOG(info, "cancel heard", {{"task_id", ev.id}});
                  board->cancel(ev.id, ev.why);
              } else {
                  PFO3_LOG(debug, "ignored a message on pfo3.cancels that is no cancel event", {{"error", why}});
              }
          },
          [listing = std::make_shared<store_listing>(store_listing{board, std::move(open_store), max_pending, {}, false})] {
              (*listing)();
          }) {}

cancel_listener::~cancel_listener() { stop(); }

void cancel_listener::preload(store::result_store& store) {
    try {
        const auto n = load_pending_cancels(store, *board_, max_pending_);
        if (n) PFO3_LOG(info, "pending cancels loaded from the store", {{"count", std::to_string(n)}});
    } catch (const std::exception& e) {
        PFO3_LOG(warn, "cannot list pending cancels from the store before consuming; tasks cancelled while no "
                       "worker ran may run",
                 {{"store", store.describe()}, {"error", e.what()}});
    }
}

void cancel_listener::start() { listener_.start(); }

void cancel_listener::stop() { listener_.stop(); }

}  // namespace pfo3::worker
