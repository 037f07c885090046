#pragma once
// A label whose values come from clients (the task type), held to at most `limit` distinct
// values: the first `limit` values seen keep their own series, every later one is counted as
// `_other`, so a client cannot grow the series without bound. Each value gets a slot index
// for counter arrays; lookup is lock-free (an open-addressing table of atomic pointers, entries
// never removed), so it sits on the hot path of every task; an insert (at most `limit` of them)
// takes a lock. Thread-safe.
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace pfo3::metrics {

class bounded_labels {
public:
    /// `limit` >= 1 distinct values (at most 100000).
    explicit bounded_labels(std::size_t limit);
    ~bounded_labels();
    bounded_labels(const bounded_labels&) = delete;
    bounded_labels& operator=(const bounded_labels&) = delete;

    /// The slot of `value` (inserting it while fewer than limit are held); other_slot() once
    /// the limit is reached.
    std::size_t slot(std::string_view value) noexcept;
    /// The slot every value past the limit shares; slots are < slots().
    std::size_t other_slot() const noexcept { return capacity_; }
    /// Slots in all: capacity + 1 (for `_other`); size counter arrays by it.
    std::size_t slots() const noexcept { return capacity_ + 1; }
    /// The value held at `slot`, or nullptr if the slot is free; "_other" for other_slot().
    const std::string* value_at(std::size_t slot) const noexcept;
    /// Distinct values held (<= limit).
    std::size_t size() const noexcept { return used_.load(std::memory_order_relaxed); }

    static constexpr std::string_view other = "_other";

private:
    // The slot holding `value`, else nullopt with `free` the first free slot of its probe.
    std::optional<std::size_t> find(std::string_view value, std::size_t& free) const noexcept;

    std::size_t limit_;
    std::size_t capacity_;  // power of two >= 2 * limit: probes stay short
    std::unique_ptr<std::atomic<std::string*>[]> table_;
    std::atomic<std::size_t> used_{0};  // counted after the value is stored
    std::mutex insert_mutex_;
    std::string other_value_{other};
};

}  // namespace pfo3::metrics
