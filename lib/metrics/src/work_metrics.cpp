#include "pfo3/metrics/work_metrics.hpp"

namespace pfo3::metrics {

work_metrics::work_metrics(registry& r, std::size_t type_limit)
    : types(type_limit),
      received_total(r.add_counter("pfo3_worker_tasks_received_total", "Deliveries received from the task queue.")),
      redelivered_total(r.add_counter("pfo3_worker_redeliveries_total",
                                      "Deliveries the broker marked redelivered (an earlier holder did not ack).")),
      handler_timeouts(r.add_counter("pfo3_worker_handler_timeouts_total", "Handler runs stopped at their time limit.")),
      store_errors(r.add_counter("pfo3_worker_store_errors_total", "Result store writes that failed (each retried).")),
      concurrency(r.add_gauge("pfo3_worker_concurrency", "Handler threads (work.concurrency).")),
      prefetch(r.add_gauge("pfo3_worker_prefetch", "Unacked deliveries the worker may hold (work.prefetch).")),
      last_delivery(r.add_gauge("pfo3_worker_last_delivery_timestamp_seconds",
                                "Unix time of the last delivery; 0 before the first.")),
      run_time(r.add_histogram("pfo3_worker_run_seconds", "Time a handler ran, per attempt.", task_time_buckets())),
      wait_time(r.add_histogram("pfo3_worker_wait_seconds",
                                "From the task's submission to the start of this attempt.", task_time_buckets())),
      end_to_end(r.add_histogram("pfo3_worker_end_to_end_seconds",
                                 "From the task's submission to its attempt's record being stored.",
                                 task_time_buckets())),
      store_write(r.add_histogram("pfo3_worker_store_write_seconds", "One group write to the result store.",
                                  latency_buckets())),
      settled_(r.add_counter("pfo3_worker_deliveries_settled_total", "Deliveries acked or handed back (nacked).")),
      finished_(r, "pfo3_worker_tasks_finished_total",
                "Attempts whose record was stored and acked, by task type and outcome (retry: a later attempt "
                "is queued).",
                types, "outcome", {"done", "retry", "dead"}) {
    r.add_callback("pfo3_worker_tasks_in_flight", "Deliveries received and not yet acked or handed back.",
                   kind::gauge, [this](sample_writer& w) {
                       const auto in = received_total.value(), out = settled_.value();
                       w.sample(static_cast<double>(in > out ? in - out : 0));
                   });
}

void work_metrics::received(bool redelivered) noexcept {
    received_total.inc();
    if (redelivered) redelivered_total.inc();
    last_delivery.set(std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
}

double seconds_between(std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to) noexcept {
    const double s = std::chrono::duration<double>(to - from).count();
    return s > 0 ? s : 0;
}

}  // namespace pfo3::metrics
