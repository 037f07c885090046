#pragma once
// Every figure of one `pfo3 bench` run, and its two renderings: a table for people and a
// JSON document for scripts (docs/benchmarks.md lists the fields). Plain data, no threads.
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "pfo3/queue/broker_probe.hpp"

namespace pfo3::bench {

/// Percentiles of a latency distribution, in milliseconds.
struct latency_summary {
    std::size_t count = 0;
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
    std::vector<std::pair<double, double>> cdf;  ///< (ms, fraction at or below), ~100 points
};

/// Peak and current resident memory of a local process, from /proc/PID/status.
struct process_memory {
    std::string role;     ///< "serve" or "work"
    int pid = 0;
    long peak_kib = -1;   ///< VmHWM; -1 if it could not be read
    long current_kib = -1;  ///< VmRSS
    std::string error;    ///< why it could not be read
};

/// CPU time a local process (with everything it forked) used while the tasks ran.
struct process_cpu_use {
    std::string role;  ///< "serve", "work", "bench" or a name given with --cpu-pids
    int pid = 0;
    double seconds = -1;  ///< user + system; -1 if it could not be read
    std::string error;
};

/// Everything one run measured, with the conditions it ran under.
struct bench_report {
    // Conditions.
    std::string label;
    std::string started_at;  ///< RFC 3339
    std::string host;
    std::string server;
    std::string type;
    std::size_t tasks = 0, connections = 0, window = 0, payload_bytes = 0, request_bytes = 0;
    std::optional<double> rate;  ///< open loop target, tasks/s
    std::string results_source;  ///< "inotify", "status" or "none"
    std::string store;
    bool broker_only = false;  ///< nothing was submitted to pfo3

    // Submitting.
    std::size_t accepted = 0;
    std::size_t rejected = 0;  ///< every task without ok:true, connection losses included
    std::map<std::string, std::size_t> errors;
    std::vector<std::string> failures;
    double accept_seconds = 0;  ///< start to the last response
    latency_summary submit_to_ok;

    // Results.
    std::size_t stored = 0;   ///< accepted tasks whose result was seen
    std::size_t missing = 0;  ///< accepted tasks whose result was not seen in time
    double end_to_end_seconds = 0;  ///< start to the last result seen
    std::optional<latency_summary> submit_to_stored;
    bool late_detection = false;  ///< some results were found by scanning (times are upper bounds)

    std::vector<process_memory> memory;
    /// From just before the first submit to the last result seen (or the last answer).
    std::vector<process_cpu_use> cpu;
    double cpu_wall_seconds = 0;

    // The broker alone.
    std::optional<queue::broker_probe_result> broker;
    std::size_t broker_window = 0;
    std::size_t broker_prefetch = 0;
    std::size_t broker_body_bytes = 0;
    std::string broker_error;
    /// CPU of the --cpu-pids processes and the bench (the probe's client) while the broker
    /// alone ran: per message it carried (published and consumed once).
    std::vector<process_cpu_use> broker_cpu;
    double broker_cpu_wall_seconds = 0;
    /// Open loop only: the broker's publish→confirm and publish→delivered latencies.
    std::optional<latency_summary> broker_to_confirm, broker_to_delivered;

    /// accepted / accept_seconds (NaN when nothing was timed).
    double accepted_per_s() const;
    /// stored / end_to_end_seconds (NaN when results were not waited for).
    double end_to_end_per_s() const;
};

/// Writes the human table (report_table.cpp).
void print_report(std::ostream& out, const bench_report& r);
/// Writes the JSON document, one object, newline-terminated (report_json.cpp).
void write_report_json(std::ostream& out, const bench_report& r);

}  // namespace pfo3::bench
