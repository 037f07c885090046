#pragma once
// serve's view of the workers: a queue::fanout_listener reads the heartbeats on the fanout
// exchange pfo3.events (messages expire after a minute) and keeps the last one of each worker. A worker unseen for three of its
// intervals is shown gone, and forgotten after an hour. At most max_workers are kept (the
// longest unseen go first).
// Thread-safe front: json() from the I/O thread (GET /api/workers).
//
// A heartbeat: {"kind":"worker","id":"HOST:PID","pid":…,"version":…,"queue":…,
// "concurrency":…,"prefetch":…,"ready":…,"in_flight":…,"received":…,"done":…,"retry":…,
// "dead":…,"in_hand_count":…,"in_hand":[{"id":…,"type":…,"age_s":…}…] (the oldest 20),
// "interval_s":…,"sent_at":"RFC 3339"}.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "pfo3/config/settings.hpp"
#include "pfo3/queue/fanout_listener.hpp"
#include "pfo3/sight/sources.hpp"

namespace pfo3::sight {

class worker_roster {
public:
    static constexpr std::size_t max_workers = 10000;

    /// Listens on the broker `broker` picks (in turn after a failure).
    worker_roster(const config::settings& s, broker_picker broker);
    ~worker_roster();
    worker_roster(const worker_roster&) = delete;
    worker_roster& operator=(const worker_roster&) = delete;

    /// Tasks finished since a worker's previous beat (its first beat only sets the baseline),
    /// called on the listener thread (before start()).
    using counts_fn = std::function<void(std::uint64_t done, std::uint64_t retried, std::uint64_t dead)>;
    void on_counts(counts_fn f);

    void start();
    /// Stops the listener thread: joins it, or detaches it if it is stuck on a hung broker for
    /// longer than stop_grace (2 s).
    void stop();
    /// {"workers":[{"id":…,"seen_s_ago":…,"gone":…,"beat":{…}}…]}, ordered by id.
    std::string json() const;
    /// Workers not gone, and how many of them said they were ready.
    struct tally {
        std::size_t alive = 0, ready = 0;
    };
    tally count() const;

private:
    struct state;
    std::shared_ptr<state> state_;  // before listener_: its callbacks share it
    queue::fanout_listener listener_;
};

}  // namespace pfo3::sight
