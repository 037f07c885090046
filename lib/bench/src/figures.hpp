#pragma once
// The arithmetic of `pfo3 bench`: from the times the load and the result waits recorded to
// the figures of the report (percentiles, counts, rates). Pure functions, no I/O.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "load.hpp"
#include "report.hpp"
#include "results.hpp"

namespace pfo3::bench {

/// Summarises latencies given in nanoseconds (sorts `ns`); count 0 if it is empty.
/// Percentiles are nearest-rank: the smallest value with at least q of them at or below it.
latency_summary summarize_latency(std::vector<std::int64_t> ns);

/// Fills accepted/rejected counts, errors, failures, accept_seconds and submit→ok latencies.
void summarize_load(const load_result& load, bench_report& rep);

/// Fills stored/missing counts and end_to_end_seconds; submit→stored latencies only when the
/// times are `precise` (inotify: polling status only says when a poll saw the result).
void summarize_results(const load_result& load, const results_seen& seen, bool precise, bench_report& rep);

/// The CPU seconds of every process that could be read, summed.
double cpu_total_seconds(const std::vector<process_cpu_use>& cpu);

/// a / b, NaN unless b > 0.
double ratio(double a, double b);
/// n / seconds, NaN unless seconds > 0.
double per_second(std::size_t n, double seconds);
/// Messages the broker alone carried: the closed loop publishes and consumes N twice (the
/// separate phases, then both at once), the open loop once; 0 if the broker was not measured.
double broker_messages_carried(const bench_report& r);

}  // namespace pfo3::bench
