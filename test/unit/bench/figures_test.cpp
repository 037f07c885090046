// The benchmark's arithmetic: percentiles, counts and rates from recorded times.
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include "figures.hpp"

using namespace pfo3::bench;

namespace {

std::vector<std::int64_t> ms_values(int from, int to) {
    std::vector<std::int64_t> v;
    for (int i = from; i <= to; ++i) v.push_back(std::int64_t{i} * 1000000);
    return v;
}

task_timing answered(std::int64_t submit, std::int64_t answer, bool ok) { return {submit, answer, ok}; }

}  // namespace

TEST_CASE("percentiles are nearest-rank, in milliseconds, whatever order the samples came in") {
    auto v = ms_values(1, 1000);  // 1 ms … 1000 ms
    std::reverse(v.begin(), v.end());
    const auto s = summarize_latency(v);
    CHECK(s.count == 1000);
    CHECK(s.p50 == 500);
    CHECK(s.p90 == 900);
    CHECK(s.p99 == 990);
    CHECK(s.p999 == 999);
    CHECK(s.max == 1000);
    CHECK(s.mean == Approx(500.5));
}

TEST_CASE("a percentile of few samples is one of the samples, never an interpolation") {
    const auto s = summarize_latency({3000000, 1000000, 2000000});  // 3, 1, 2 ms
    CHECK(s.p50 == 2);  // ceil(0.5 * 3) = 2nd smallest
    CHECK(s.p90 == 3);
    CHECK(s.p99 == 3);
    CHECK(s.max == 3);
    const auto one = summarize_latency({7000000});
    CHECK(one.p50 == 7);
    CHECK(one.p999 == 7);
}

TEST_CASE("the CDF runs from the minimum to the maximum with fine steps in the tail") {
    const auto s = summarize_latency(ms_values(1, 10000));
    REQUIRE(s.cdf.size() == 105);  // every percent plus 99.5, 99.9, 99.95, 99.99
    CHECK(s.cdf.front() == std::make_pair(1.0, 0.0));
    CHECK(s.cdf.back() == std::make_pair(10000.0, 1.0));
    for (std::size_t i = 1; i < s.cdf.size(); ++i) {
        CHECK(s.cdf[i].first >= s.cdf[i - 1].first);
        CHECK(s.cdf[i].second > s.cdf[i - 1].second);
    }
    const auto tail = std::find_if(s.cdf.begin(), s.cdf.end(), [](auto& p) { return p.second == 0.9999; });
    REQUIRE(tail != s.cdf.end());
    CHECK(tail->first == 9999);
}

TEST_CASE("no samples: a zero count and no CDF") {
    const auto s = summarize_latency({});
    CHECK(s.count == 0);
    CHECK(s.cdf.empty());
    CHECK(s.max == 0);
}

TEST_CASE("the load's summary counts every task without ok:true as rejected and times only the accepted") {
    load_result load;
    load.tasks = {answered(0, 2000000, true), answered(1000000, 5000000, false), answered(2000000, 4000000, true),
                  answered(3000000, -1, false)};  // the last one lost with its connection
    load.ids = {"a", "c"};
    load.id_submit_ns = {0, 2000000};
    load.errors = {{"overloaded", 1}, {"connection_lost", 1}};
    load.failures = {"connection 1 lost"};
    bench_report rep;
    summarize_load(load, rep);
    CHECK(rep.accepted == 2);
    CHECK(rep.rejected == 2);
    CHECK(rep.errors == load.errors);
    CHECK(rep.failures == load.failures);
    CHECK(rep.accept_seconds == Approx(0.005));  // the last answer, rejected or not
    CHECK(rep.submit_to_ok.count == 2);
    CHECK(rep.submit_to_ok.max == 2);  // 2 ms each: the rejection's 4 ms does not count
    CHECK(rep.accepted_per_s() == Approx(400));
}

TEST_CASE("results not seen in time are missing, and end to end runs to the last one seen") {
    load_result load;
    load.ids = {"a", "b", "c"};
    load.id_submit_ns = {0, 1000000, 2000000};
    results_seen seen;
    seen.stored_ns = {3000000, -1, 9000000};

    bench_report precise;
    precise.results_source = "inotify";
    summarize_results(load, seen, true, precise);
    CHECK(precise.stored == 2);
    CHECK(precise.missing == 1);
    CHECK(precise.end_to_end_seconds == Approx(0.009));
    CHECK(precise.end_to_end_per_s() == Approx(2 / 0.009));
    REQUIRE(precise.submit_to_stored);
    CHECK(precise.submit_to_stored->count == 2);
    CHECK(precise.submit_to_stored->p50 == 3);
    CHECK(precise.submit_to_stored->max == 7);

    bench_report polled;
    polled.results_source = "status";
    seen.late_detection = true;
    summarize_results(load, seen, false, polled);
    CHECK(polled.stored == 2);
    CHECK(polled.late_detection);
    CHECK_FALSE(polled.submit_to_stored);  // a poll's time is not a latency
}

TEST_CASE("rates and ratios are NaN, not infinite, when nothing was timed") {
    CHECK(std::isnan(per_second(10, 0)));
    CHECK(per_second(10, 2) == 5);
    CHECK(std::isnan(ratio(1, 0)));
    CHECK(ratio(1, 4) == 0.25);
    bench_report none;
    none.results_source = "none";
    none.stored = 5;
    none.end_to_end_seconds = 1;
    CHECK(std::isnan(none.end_to_end_per_s()));
}

TEST_CASE("the broker alone carries N messages twice in closed loop, once in open loop") {
    bench_report r;
    CHECK(broker_messages_carried(r) == 0);
    r.broker.emplace();
    r.broker->messages = 300;
    CHECK(broker_messages_carried(r) == 600);
    r.broker->open_loop = true;
    CHECK(broker_messages_carried(r) == 300);
}

TEST_CASE("CPU totals skip the processes that could not be read") {
    std::vector<process_cpu_use> cpu = {{"serve", 1, 0.5, {}}, {"gone", 2, -1, "no process 2"}, {"bench", 3, 0.25, {}}};
    CHECK(cpu_total_seconds(cpu) == 0.75);
}
