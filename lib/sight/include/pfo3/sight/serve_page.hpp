#pragma once
// serve's status page (issue 14) on its [http] listener:
//   GET /              one server-rendered HTML page (no external assets)
//   GET /page.js, /page.css   its script and style: same origin, so the page's CSP needs no
//                      'unsafe-inline', no hash to keep in step with the text, no per-response nonce
//   GET /api/overview  everything the page shows, as JSON (scripts can use it too)
//   GET /api/task/ID   the stored record of one task, result cut to 4 KiB
//   POST /api/dead/requeue, /api/dead/purge   the dead-letter buttons, only with [web] actions:
//                      the page's CSRF token in X-CSRF-Token, and the admin scope off loopback
// Reads are gated like /metrics (http_gate): the status scope off loopback. Every handler runs
// on serve's I/O thread and reads what other threads keep (roster, queue watch, throughput,
// metrics); a task look-up goes to the status readers' threads and answers later.
#include <functional>
#include <string>
#include <vector>

#include "pfo3/metrics/serve_metrics.hpp"
#include "pfo3/queue/connection_stats.hpp"
#include "pfo3/sight/http_gate.hpp"
#include "pfo3/sight/queue_watch.hpp"
#include "pfo3/sight/role_sight.hpp"
#include "pfo3/sight/throughput.hpp"
#include "pfo3/sight/worker_roster.hpp"

namespace pfo3::sight {

/// The dead-letter operations the page's buttons run, handed in by the role (the same code
/// path as `pfo3 dead`; this module opens no broker connection for them).
struct dead_letter_ops {
    using answer = std::function<void(bool ok, std::string json)>;
    /// Runs "requeue" or "purge" on the dead letters `ids` (empty: every one); `done` gets the
    /// report as JSON, from any thread. Empty: the POST endpoints answer 501.
    std::function<void(std::string action, std::vector<std::string> ids, answer done)> run;
    /// The latest dead letters as a JSON array of objects with id, type, attempt, submitted_at
    /// and error (as serve's dead_list answer lists them); any thread, quick (a cached answer).
    /// Empty: the panel shows the dead-letter queue's depth only. See dead_letter_cache.
    std::function<std::string()> latest;
};

/// Reads one task's status reply line (serve's status reader); `done` from any thread.
using task_reader = std::function<void(std::string id, std::function<void(std::string line)> done)>;

struct page_options {
    bool actions = false;                  ///< [web] actions
    std::string store;                     ///< the store's kind, shown in the health panel
    std::vector<std::string> broker_nodes; ///< HOST:PORT of each broker URL, in the list's order
    std::size_t dead_queue = 1;            ///< the dead-letter queue's place in the queue watch's list
};

/// What the page reads. Everything must outlive the role's HTTP listener.
struct page_sources {
    const metrics::serve_metrics* metrics;  ///< null: [http] metrics = false (its figures show as null)
    const queue::connection_stats& broker;
    const worker_roster& roster;
    const queue_watch& queues;
    const throughput& minutes;
    task_reader read_task;
    dead_letter_ops dead;
};

/// Adds the page's routes to `view` (before view.start()) and keeps what they share.
void add_status_page(role_sight& view, const http_gate& gate, page_options opts, page_sources src);

/// `s` with & < > " ' as character references: safe in HTML text and attribute values.
std::string html_escape(std::string_view s);
/// A status reply line with its "result" cut to `max_bytes` (then "result_cut":true) and "ok"
/// removed: the record as the page shows it. Invalid JSON stays as it is.
std::string record_for_page(std::string_view status_line, std::size_t max_bytes);

}  // namespace pfo3::sight
