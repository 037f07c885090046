#pragma once
// Private to the queue module: the task ids whose publish ended in doubt (connection lost or
// no confirm in time, or a nack) on this publisher. Such a message may still have reached
// the queue, so the next publish of the same id is marked as a possible copy
// (`copy_header`), and the worker that takes it checks the store before running it: a
// client that resubmits an id after `unavailable` gets the handler run once (issue 15).
// Bounded: the newest `capacity` ids of the last `keep`; owner thread only (not thread-safe).
#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pfo3::queue::detail {

/// The AMQP header (boolean true) that marks a publish whose id went unconfirmed before.
inline constexpr std::string_view copy_header = "pfo3-maybe-copy";

class in_doubt_ids {
public:
    using clock = std::chrono::steady_clock;
    /// A resubmission comes seconds or minutes after the `unavailable`; an hour is ample.
    static constexpr std::chrono::minutes default_keep{60};
    /// 100 000 ids of at most 255 bytes: under 30 MB in the worst case, ~10 MB for typical ids.
    static constexpr std::size_t default_capacity = 100000;

    explicit in_doubt_ids(std::size_t capacity = default_capacity, clock::duration keep = default_keep)
        : capacity_(capacity), keep_(keep) {}

    /// The publish of `id` ended in doubt at `now`.
    void add(const std::string& id, clock::time_point now);
    /// True if a publish of `id` ended in doubt within `keep` of `now` (and was not pushed out).
    /// Costs nothing while the memory is empty, which is always, outside broker outages.
    bool contains(const std::string& id, clock::time_point now);
    std::size_t size() const noexcept { return by_id_.size(); }

private:
    void expire(clock::time_point now);

    std::size_t capacity_;
    clock::duration keep_;
    std::deque<std::pair<std::string, clock::time_point>> order_;  // oldest first
    std::unordered_map<std::string, std::size_t> by_id_;  // id -> its entries in order_
};

}  // namespace pfo3::queue::detail
