#include "figures.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pfo3::bench {

namespace {

// Nearest-rank percentile of sorted values: the smallest value with at least q of them at
// or below it.
std::int64_t rank(const std::vector<std::int64_t>& sorted, double q) {
    const auto n = sorted.size();
    auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
    i = std::clamp<std::size_t>(i, 1, n);
    return sorted[i - 1];
}

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

}  // namespace

latency_summary summarize_latency(std::vector<std::int64_t> ns) {
    latency_summary s;
    if (ns.empty()) return s;
    std::sort(ns.begin(), ns.end());
    s.count = ns.size();
    s.p50 = ms(rank(ns, 0.50));
    s.p90 = ms(rank(ns, 0.90));
    s.p99 = ms(rank(ns, 0.99));
    s.p999 = ms(rank(ns, 0.999));
    s.max = ms(ns.back());
    s.mean = std::accumulate(ns.begin(), ns.end(), 0.0) / static_cast<double>(ns.size()) / 1e6;
    // Fine steps where a CDF plot on a log scale needs them: the tail.
    std::vector<double> qs;
    for (int i = 0; i <= 100; ++i) qs.push_back(i / 100.0);
    for (double q : {0.995, 0.999, 0.9995, 0.9999}) qs.push_back(q);
    std::sort(qs.begin(), qs.end());
    for (double q : qs) s.cdf.emplace_back(ms(q == 0 ? ns.front() : rank(ns, q)), q);
    return s;
}

void summarize_load(const load_result& load, bench_report& rep) {
    rep.accepted = load.ids.size();
    rep.rejected = load.tasks.size() - load.ids.size();
    rep.errors = load.errors;
    rep.failures = load.failures;
    std::int64_t last_answer = 0;
    std::vector<std::int64_t> ok_latency;
    ok_latency.reserve(load.tasks.size());
    for (const auto& t : load.tasks) {
        last_answer = std::max(last_answer, t.answer_ns);
        if (t.ok) ok_latency.push_back(t.answer_ns - t.submit_ns);
    }
    rep.accept_seconds = static_cast<double>(last_answer) / 1e9;
    rep.submit_to_ok = summarize_latency(std::move(ok_latency));
}

void summarize_results(const load_result& load, const results_seen& seen, bool precise, bench_report& rep) {
    std::vector<std::int64_t> stored_latency;
    std::int64_t last_stored = 0;
    for (std::size_t i = 0; i < load.ids.size(); ++i) {
        const auto at = seen.stored_ns[i];
        if (at < 0) {
            ++rep.missing;
            continue;
        }
        ++rep.stored;
        last_stored = std::max(last_stored, at);
        stored_latency.push_back(at - load.id_submit_ns[i]);
    }
    rep.end_to_end_seconds = static_cast<double>(last_stored) / 1e9;
    rep.late_detection = seen.late_detection;
    if (precise) rep.submit_to_stored = summarize_latency(std::move(stored_latency));
}

double cpu_total_seconds(const std::vector<process_cpu_use>& cpu) {
    double total = 0;
    for (const auto& c : cpu)
        if (c.seconds >= 0) total += c.seconds;
    return total;
}

double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

double per_second(std::size_t n, double seconds) { return seconds > 0 ? static_cast<double>(n) / seconds : NAN; }

double broker_messages_carried(const bench_report& r) {
    if (!r.broker) return 0;
    return static_cast<double>(r.broker->messages) * (r.broker->open_loop ? 1 : 2);
}

double bench_report::accepted_per_s() const { return per_second(accepted, accept_seconds); }

double bench_report::end_to_end_per_s() const {
    return results_source == "none" ? NAN : per_second(stored, end_to_end_seconds);
}

}  // namespace pfo3::bench
