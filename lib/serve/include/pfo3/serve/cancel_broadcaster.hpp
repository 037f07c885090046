#pragma once
// Sends cancel events to the workers (decision 0015): once a cancel_requested record is
// durable, its event goes to the fanout exchange pfo3.cancels, published persistent with a
// confirm on a connection of its own (one thread), so the worker running the task stops it and
// every worker skips it if it is still queued. The events wait in a bounded queue; one that
// cannot be sent is tried again after a reconnect. Thread-safe front (announce() from serve's
// status threads); the thread owns what it uses, so one stuck on a hung broker is left behind
// at stop().
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "pfo3/queue/amqp_url.hpp"

namespace pfo3::serve {

class cancel_broadcaster {
public:
    /// The broker URL for the `attempt`-th connect (the failover list in turn).
    using broker_picker = std::function<queue::amqp_url(std::size_t attempt)>;
    /// Events waiting to be sent, at most; past it the newest is dropped and logged (its
    /// record still holds the cancel: workers list it when they start and reconnect).
    static constexpr std::size_t max_waiting = 10000;

    explicit cancel_broadcaster(broker_picker broker);
    /// stop()s.
    ~cancel_broadcaster();
    cancel_broadcaster(const cancel_broadcaster&) = delete;
    cancel_broadcaster& operator=(const cancel_broadcaster&) = delete;

    void start();
    /// Stops the thread; events not sent yet are dropped (logged). Idempotent.
    void stop();
    /// A function that queues the event of a stored cancel (`why`: the record's error); it
    /// keeps the sender's state alive, so a status thread left behind may still call it.
    std::function<void(const std::string& id, const std::string& why)> announcer() const;

private:
    struct state;
    static void run(const std::shared_ptr<state>& st);
    std::shared_ptr<state> state_;
    std::thread thread_;
};

}  // namespace pfo3::serve
