#pragma once
// The worker's operations endpoints (see sight.hpp) with the loop they run on: work has no
// event loop of its own (its main thread waits for signals), so this owns an io_context and one
// thread for the ticker and the HTTP listener, the worker's metrics (handed to the engine
// through its options and to the consumer's callbacks), and two probe threads: one reads the
// store, one the queue depths (passive declare, its own AMQP connection), each on a period, so
// a hung store or broker never stalls the loop. The ticker runs the consuming watchdog: a
// backlog, free slots and no delivery for work.consumer_watchdog_s make the worker unready and
// ask (take_reconnect_request) for the consumer to connect again. With [http] metrics = false
// there are no metrics, no queue probe and no consuming watchdog (it reads both); with
// [http] heartbeat_s = 0, no heartbeat.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "pfo3/config/settings.hpp"
#include "pfo3/metrics/work_metrics.hpp"
#include "pfo3/queue/connection_stats.hpp"
#include "pfo3/sight/sources.hpp"
#include "pfo3/sight/role_sight.hpp"

namespace pfo3::sight {

class work_sight {
public:
    /// Registers the metrics and checks; nothing runs until start(). The store check opens its
    /// handle with `open_store`; the queue probe and the heartbeat connect to `broker`.
    work_sight(const config::settings& s, store_opener open_store, broker_picker broker);
    /// stop()s.
    ~work_sight();
    work_sight(const work_sight&) = delete;
    work_sight& operator=(const work_sight&) = delete;

    /// Starts the loop thread, the HTTP listener (if [http] listen is set) and the store check.
    void start();
    /// Stops them and joins the threads (idempotent).
    void stop();
    /// The worker is shutting down: /readyz says so.
    void mark_stopping() noexcept { view_.mark_stopping(); }

    /// The worker's metrics; nullptr with [http] metrics = false (nothing is counted then).
    metrics::work_metrics* metrics() noexcept { return metrics_ ? &*metrics_ : nullptr; }
    queue::connection_stats& consumer_stats() noexcept { return consumer_stats_; }
    queue::connection_stats& republish_stats() noexcept { return republish_stats_; }
    /// The consumer's state handler reports here.
    void set_consuming(bool consuming) noexcept;
    /// True once after the consuming watchdog fired: the caller (the consumer's owner) then
    /// calls consumer::reconnect().
    bool take_reconnect_request() noexcept { return reconnect_wanted_.exchange(false); }

private:
    // A probe's state, shared with its thread: a probe stuck on a hung store or broker may
    // outlive this object (stop() detaches it after a grace).
    struct probe {
        config::settings settings;
        store_opener open_store;
        broker_picker broker;
        std::mutex mu;
        std::condition_variable wake;
        bool stop = false;
        bool finished = false;  // the thread's body returned: stop() joins it
        std::optional<std::string> error = "not checked yet";
        std::chrono::steady_clock::time_point checked = std::chrono::steady_clock::now();
        // The queue probe's figures, -1 while unknown: task queue, dead-letter queue.
        std::atomic<std::int64_t> messages[2] = {-1, -1};
        std::atomic<std::int64_t> consumers[2] = {-1, -1};
    };
    // Runs `once` every `period` until stop, recording its failure (what it threw) or success.
    static void probe_loop(const std::shared_ptr<probe>& p, std::chrono::seconds period, const char* what,
                           const std::function<void()>& once, const std::function<void()>& on_failure);
    void add_metrics(const config::settings& s);
    void start_queue_probe();
    void start_heartbeat();
    void append_counters(std::string& beat) const;
    std::optional<std::string> store_problem() const;
    std::optional<std::string> consuming_problem() const;
    void watch_consuming();

    config::settings settings_;
    boost::asio::io_context io_{1};
    role_sight view_;
    std::optional<metrics::work_metrics> metrics_;  // empty: [http] metrics = false
    queue::connection_stats consumer_stats_, republish_stats_;
    std::atomic<bool> consuming_{false};

    // The heartbeat published every http.heartbeat_s (see worker_roster.hpp for its form).
    std::string heartbeat() const;

    std::shared_ptr<probe> store_probe_, queue_probe_, beat_probe_;
    std::atomic<std::int64_t> consuming_since_{0};  // unix seconds
    std::atomic<bool> stalled_{false}, reconnect_wanted_{false};
    std::int64_t last_reconnect_ = 0;               // unix seconds; ops loop only
    bool stopped_ = false;
    std::thread loop_, store_thread_, queue_thread_, beat_thread_;
};

}  // namespace pfo3::sight
