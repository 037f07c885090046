#pragma once
// What a worker counts, registered on the role's registry. The consumer's delivery callback and
// settler (app/) count deliveries; the engine (lib/worker, through engine_options) counts
// outcomes and times. Thread-safe; every update is one or two relaxed atomic operations.
#include <chrono>
#include <cstddef>
#include <string_view>

#include "pfo3/metrics/bounded_labels.hpp"
#include "pfo3/metrics/registry.hpp"
#include "pfo3/metrics/tasks_in_hand.hpp"
#include "pfo3/metrics/typed_counters.hpp"

namespace pfo3::metrics {

/// How a task's attempt ended once its record was stored (and the delivery acked).
enum class outcome : std::size_t { done = 0, retry = 1, dead = 2 };

struct work_metrics {
    work_metrics(registry& r, std::size_t type_limit);

    /// A delivery arrived (consumer thread).
    void received(bool redelivered) noexcept;
    /// A delivery was acked or nacked.
    void settled() noexcept { settled_.inc(); }
    std::uint64_t settled_total() const noexcept { return settled_.value(); }
    /// An attempt's record was stored and acked.
    void finished(std::string_view type, outcome o) noexcept { finished_.inc(type, static_cast<std::size_t>(o)); }
    /// Attempts that ended with `o`, every type.
    std::uint64_t finished_total(outcome o) const noexcept { return finished_.total(static_cast<std::size_t>(o)); }

    bounded_labels types;
    counter& received_total;
    counter& redelivered_total;
    counter& handler_timeouts;
    counter& store_errors;
    gauge& concurrency;
    gauge& prefetch;
    gauge& last_delivery;  ///< unix time, seconds
    histogram& run_time;
    histogram& wait_time;   ///< submitted → this attempt started
    histogram& end_to_end;  ///< submitted → stored (final or failed attempt)
    histogram& store_write;
    tasks_in_hand in_hand;  ///< what the handler threads run now (the heartbeat lists it)

private:
    counter& settled_;
    typed_counters finished_;
};

/// Seconds from `from` to `to` as a double (negative clock skew reads as 0).
double seconds_between(std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to) noexcept;

}  // namespace pfo3::metrics
