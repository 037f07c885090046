#pragma once
// What serve counts, registered on the role's registry; updated by serve's dispatcher
// (lib/serve/src/run.cpp) on the I/O and publisher threads. Thread-safe.
#include <cstddef>
#include <optional>
#include <string_view>

#include "pfo3/core/error.hpp"
#include "pfo3/metrics/bounded_labels.hpp"
#include "pfo3/metrics/registry.hpp"
#include "pfo3/metrics/typed_counters.hpp"

namespace pfo3::metrics {

/// The request kinds serve dispatches.
enum class request_op : std::size_t { submit = 0, status = 1, ping = 2, cancel = 3 };

struct serve_metrics {
    serve_metrics(registry& r, std::size_t type_limit);

    /// One answered request: `error` empty for ok.
    void request(request_op op, std::optional<request_error> error) noexcept;
    /// The slot of a submit's type (on the I/O thread, where the type is at hand) ...
    std::size_t type_slot(std::string_view type) noexcept { return accepted_.slot(type); }
    /// ... and the count once the broker confirmed it.
    void accepted(std::size_t type_slot) noexcept { accepted_.inc_at(type_slot, 0); }
    /// Submits the broker confirmed, every type.
    std::uint64_t accepted_total() const noexcept { return accepted_.total(0); }
    /// A request refused before it reached the dispatcher (net::observers::refused).
    void refused(request_error code) noexcept;

    bounded_labels types;
    histogram& confirm_latency;  ///< publish → broker's answer
    histogram& accept_latency;   ///< a submit read → its reply written (the confirm included)
    counter& nacked;
    counter& returned;

private:
    static constexpr std::size_t ops = 4, codes = 12;  // ok + every request_error
    counter* requests_[ops][codes] = {};
    typed_counters accepted_;
    counter* refused_[codes] = {};
};

}  // namespace pfo3::metrics
