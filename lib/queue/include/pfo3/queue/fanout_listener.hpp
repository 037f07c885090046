#pragma once
// Listens to a fanout exchange (cancel events, worker heartbeats): a thread with its own AMQP
// connection (queue_admin) declares the exchange, binds an exclusive, auto-deleted, server-named
// queue to it, and takes its messages with basic.get every poll period. A lost connection is
// made again after a wait, to the next broker of the list; the first failure is logged as a
// warning and the recovery once. Thread-safe front; the thread owns what it uses (the callbacks
// must own what they capture), so one stuck on a hung broker is left behind at stop() without
// touching freed memory.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "pfo3/queue/amqp_url.hpp"

namespace pfo3::queue {

struct fanout_listener_options {
    std::string exchange;         ///< the fanout exchange (declared if missing)
    std::string connection_name;  ///< as the broker shows it
    std::string what;             ///< for the log: "listening to <what> again"
    std::string lost_note;        ///< added to the warning when listening fails (may be empty)
    std::chrono::milliseconds message_ttl{60000};  ///< a message older than this is dropped unread
    std::chrono::milliseconds poll_period{1000};
    std::chrono::milliseconds reconnect_wait{2000};
    std::chrono::milliseconds stop_wait{2000};  ///< stop() waits this long for the thread
    std::size_t max_per_poll = 10000;  ///< messages taken in one go before the stop flag is looked at
};

class fanout_listener {
public:
    /// The broker URL for the `attempt`-th connect (the failover list in turn).
    using broker_picker = std::function<amqp_url(std::size_t attempt)>;
    /// Each message's body, on the listener's thread; it is acked when this returns.
    using message_fn = std::function<void(std::string_view body)>;
    /// After each bind, before the first message of that connection (a throw drops the
    /// connection: it is made again after reconnect_wait).
    using bound_fn = std::function<void()>;
    /// After each round of polling, before the pause.
    using idle_fn = std::function<void()>;

    fanout_listener(fanout_listener_options o, broker_picker broker, message_fn on_message, bound_fn on_bound = {},
                    idle_fn on_idle = {});
    /// stop()s.
    ~fanout_listener();
    fanout_listener(const fanout_listener&) = delete;
    fanout_listener& operator=(const fanout_listener&) = delete;

    void start();
    /// Stops the thread: joined when it ends within stop_wait, else left behind (idempotent).
    void stop();

private:
    struct state;
    static void listen(const std::shared_ptr<state>& st);
    std::shared_ptr<state> state_;
    std::thread thread_;
};

}  // namespace pfo3::queue
