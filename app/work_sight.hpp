#pragma once
// The worker's operations endpoints (see sight.hpp) with the loop they run on: work has no
// event loop of its own (its main thread waits for signals), so this owns an io_context and one
// thread for the ticker and the HTTP listener, the worker's metrics (handed to the engine
// through its options and to the consumer's callbacks), and one thread that reads the store on
// a period with its own handle, so a hung store never stalls the loop.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "pfo3/config/settings.hpp"
#include "pfo3/metrics/work_metrics.hpp"
#include "pfo3/queue/connection_stats.hpp"
#include "pfo3/worker/delivery_guard.hpp"
#include "sight.hpp"

namespace pfo3::app {

class work_sight {
public:
    /// Registers the metrics and checks; nothing runs until start().
    explicit work_sight(const config::settings& s);
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

    metrics::work_metrics& metrics() noexcept { return metrics_; }
    queue::connection_stats& consumer_stats() noexcept { return consumer_stats_; }
    queue::connection_stats& republish_stats() noexcept { return republish_stats_; }
    /// The consumer's state handler reports here.
    void set_consuming(bool consuming) noexcept { consuming_ = consuming; }

private:
    // The store check's state, shared with its thread: a check stuck on a hung store may
    // outlive this object (it is detached at stop()).
    struct store_check {
        config::settings settings;
        std::mutex mu;
        std::condition_variable wake;
        bool stop = false;
        std::optional<std::string> error = "not checked yet";
        std::chrono::steady_clock::time_point checked = std::chrono::steady_clock::now();
    };
    static void store_check_loop(const std::shared_ptr<store_check>& c);
    std::optional<std::string> store_problem() const;

    config::settings settings_;
    boost::asio::io_context io_{1};
    sight view_;
    metrics::work_metrics metrics_;
    queue::connection_stats consumer_stats_, republish_stats_;
    std::atomic<bool> consuming_{false};

    std::shared_ptr<store_check> check_;
    bool stopped_ = false;
    std::thread loop_, store_check_;
};

/// Counts every settled delivery before passing it on (acks and nacks alike).
class counting_settler final : public worker::settler {
public:
    counting_settler(worker::settler& next, metrics::work_metrics& m) noexcept : next_(next), m_(m) {}
    void ack(std::uint64_t generation, std::uint64_t tag) override {
        m_.settled();
        next_.ack(generation, tag);
    }
    void nack(std::uint64_t generation, std::uint64_t tag, bool requeue) override {
        m_.settled();
        next_.nack(generation, tag, requeue);
    }

private:
    worker::settler& next_;
    metrics::work_metrics& m_;
};

}  // namespace pfo3::app
