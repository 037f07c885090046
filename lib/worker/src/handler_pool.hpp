#pragma once
// A fixed set of handler threads fed from a queue of deliveries. The queue needs no bound of
// its own: the broker's prefetch window bounds what can be in it.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "pfo3/worker/delivery_guard.hpp"

namespace pfo3::worker {

/// See the file comment. Thread-safe.
class handler_pool {
public:
    using job = std::function<void(delivery_guard)>;

    handler_pool(int threads, job run);
    /// Closes and joins the threads (they finish what they run); see abandon().
    ~handler_pool();
    handler_pool(const handler_pool&) = delete;
    handler_pool& operator=(const handler_pool&) = delete;

    /// Queues a delivery; once closed, the guard is dropped (nack + requeue).
    void push(delivery_guard d);
    /// Queues every delivery of `ds` in one hand-over (one lock; as many idle threads woken as
    /// there are deliveries). `ds` is left empty. Once closed, they are dropped (nack + requeue).
    void push(std::vector<delivery_guard>& ds);
    /// Stops taking deliveries; returns those not started yet (dropping them nacks them back).
    std::deque<delivery_guard> close();

    /// Waits until no delivery is running or queued; false if `timeout` passed first.
    bool wait_idle(std::chrono::milliseconds timeout);
    /// Detaches threads still running a handler after the grace period: the process is about
    /// to exit and their deliveries, never acked, are redelivered by the broker.
    void abandon();

private:
    void loop();

    job run_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::deque<delivery_guard> queue_;
    int running_ = 0;
    int idle_threads_ = 0;  // waiting on wake_: a push with none of them need not wake anyone
    bool closed_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace pfo3::worker
