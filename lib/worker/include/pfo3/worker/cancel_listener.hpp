#pragma once
// Feeds a worker's cancel_board (decision 0015): a queue::fanout_listener on the exchange
// pfo3.cancels; after each bind it lists the pending cancels from the store (so a cancel made
// meanwhile is heard one way or the other), then takes the events as they come (basic.get
// every 100 ms). After a lost connection it binds and lists again: events published while it
// was away are in the store. The listener's thread owns what it uses (the board is shared), so
// one stuck on a hung broker or store is left behind at stop() without touching freed memory.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "pfo3/queue/amqp_url.hpp"
#include "pfo3/queue/fanout_listener.hpp"
#include "pfo3/store/result_store.hpp"
#include "pfo3/worker/cancel_board.hpp"

namespace pfo3::worker {

/// Lists the pending cancels of `store` (at most `limit`) into `board`; returns how many.
/// Throws what the store throws.
std::size_t load_pending_cancels(store::result_store& store, cancel_board& board, std::size_t limit);

class cancel_listener {
public:
    /// The broker URL for the `attempt`-th connect (the failover list in turn).
    using broker_picker = std::function<queue::amqp_url(std::size_t attempt)>;
    /// Opens the store handle the thread lists pending cancels with (on that thread).
    using store_opener = std::function<std::unique_ptr<store::result_store>()>;

    cancel_listener(std::shared_ptr<cancel_board> board, broker_picker broker, store_opener open_store,
                    std::size_t max_pending);
    /// stop()s.
    ~cancel_listener();
    cancel_listener(const cancel_listener&) = delete;
    cancel_listener& operator=(const cancel_listener&) = delete;

    /// Lists the pending cancels of `store` into the board before the worker consumes (so a
    /// task cancelled while no worker ran is never started), logging a failure: the thread
    /// lists them again once it is connected. Call before start().
    void preload(store::result_store& store);
    void start();
    /// Stops the thread: joined when it ends within a moment, else left behind (idempotent).
    void stop();

private:
    std::shared_ptr<cancel_board> board_;
    std::size_t max_pending_;
    queue::fanout_listener listener_;
};

}  // namespace pfo3::worker
