#pragma once
// The metric types a role updates on its hot paths: counter, gauge, histogram with fixed
// buckets. Updates are single relaxed atomic operations (no lock, no allocation), so they are
// cheap enough to leave on; reads are for the scrape and may see a histogram mid-update (its
// count and buckets then differ by the observations in flight, as Prometheus tolerates).
// Thread-safe. Owned by a metrics::registry, which renders them.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace pfo3::metrics {

/// A monotonic count.
class counter {
public:
    void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

/// A value that goes up and down (integral: in flight, connected, a time in seconds).
class gauge {
public:
    void set(std::int64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }
    void add(std::int64_t n) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    std::int64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> v_{0};
};

/// Observations in seconds counted into fixed buckets (upper bounds, ascending; +Inf is
/// implied). The sum is kept in nanoseconds so that adding stays one atomic operation.
class histogram {
public:
    explicit histogram(std::vector<double> upper_bounds);
    histogram(const histogram&) = delete;
    histogram& operator=(const histogram&) = delete;

    void observe(double seconds) noexcept {
        std::size_t i = 0;
        while (i < bounds_.size() && seconds > bounds_[i]) ++i;
        buckets_[i].fetch_add(1, std::memory_order_relaxed);
        const double ns = seconds > 0 ? seconds * 1e9 : 0;
        sum_ns_.fetch_add(ns < 1.8e19 ? static_cast<std::uint64_t>(ns) : 0, std::memory_order_relaxed);
    }

    const std::vector<double>& bounds() const noexcept { return bounds_; }
    /// Observations in bucket i alone (not cumulative); i == bounds().size() is +Inf.
    std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].load(std::memory_order_relaxed); }
    double sum() const noexcept { return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9; }

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
    std::atomic<std::uint64_t> sum_ns_{0};
};

/// Latency buckets from 1 ms to 10 s (broker confirms, store writes).
std::vector<double> latency_buckets();
/// Task-time buckets from 5 ms to 1 h (run time, wait time, end to end).
std::vector<double> task_time_buckets();

}  // namespace pfo3::metrics
