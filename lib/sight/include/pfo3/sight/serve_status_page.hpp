#pragma once
// serve's status page wired to serve's parts (issue 14): the worker roster (heartbeats, and
// /api/workers), the queue watch, the one-minute throughput, the dead-letter list and buttons,
// and the scope that guards /metrics. The role hands in how to reach what this module does not
// own (its dead-letter desk, its status readers), so sight depends on no serve code.
#include <functional>
#include <memory>
#include <string>

#include "pfo3/config/settings.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/metrics/serve_metrics.hpp"
#include "pfo3/queue/connection_stats.hpp"
#include "pfo3/sight/http_gate.hpp"
#include "pfo3/sight/role_sight.hpp"
#include "pfo3/sight/serve_page.hpp"
#include "pfo3/sight/worker_roster.hpp"

namespace pfo3::sight {

class queue_watch;
class throughput;
class dead_letter_cache;

/// Hands a dead-letter op (dead_list, dead_requeue, dead_purge) to serve's dead-letter desk;
/// `done` gets the answer line, from any thread (the same path as `pfo3 dead`, decision 0016).
using dead_letter_desk_fn = std::function<void(json::request req, std::function<void(std::string line)> done)>;

class serve_status_page {
public:
    /// Adds the routes and tickers to `view` (before view.start()). `counts`, `broker`, `view`
    /// and whatever `desk` and `read_task` refer to must outlive stop().
    serve_status_page(const config::settings& s, role_sight& view, const http_gate& gate,
                      const metrics::serve_metrics* counts, const queue::connection_stats& broker,
                      dead_letter_desk_fn desk, task_reader read_task);
    /// stop()s.
    ~serve_status_page();
    serve_status_page(const serve_status_page&) = delete;
    serve_status_page& operator=(const serve_status_page&) = delete;

    /// Starts the roster's and the queue watch's threads.
    void start();
    /// Stops them and lets go of `desk` (after the I/O thread stopped, before the desk goes).
    void stop();

private:
    worker_roster roster_;
    // shared_ptrs: the roster's listener thread, which feeds `minutes_`, may outlive this
    // object when the broker hangs.
    std::shared_ptr<throughput> minutes_;
    std::shared_ptr<queue_watch> queues_;
    std::shared_ptr<dead_letter_cache> dead_letters_;
};

}  // namespace pfo3::sight
