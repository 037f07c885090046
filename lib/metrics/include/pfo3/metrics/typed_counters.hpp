#pragma once
// A counter family over two labels: the task `type` (bounded: see bounded_labels) and a second
// label from a fixed list (outcome, code). One array of atomics, one cell per (type slot,
// column): an increment is a table lookup and one relaxed add. Renders only cells that counted
// something; an empty column label means one column and no second label. Thread-safe; the
// registry renders it through a callback, so keep both for the life of the role.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pfo3/metrics/bounded_labels.hpp"
#include "pfo3/metrics/registry.hpp"

namespace pfo3::metrics {

class typed_counters {
public:
    /// Registers `name` on `r`; `types` is shared by the role's type-labelled families.
    typed_counters(registry& r, const std::string& name, const std::string& help, bounded_labels& types,
                   std::string column_label, std::vector<std::string> columns);
    typed_counters(const typed_counters&) = delete;
    typed_counters& operator=(const typed_counters&) = delete;

    void inc(std::string_view type, std::size_t column) noexcept {
        cells_[types_.slot(type) * columns_.size() + column].fetch_add(1, std::memory_order_relaxed);
    }
    /// inc() in two steps: the slot is looked up where the type is at hand, the add done later.
    std::size_t slot(std::string_view type) noexcept { return types_.slot(type); }
    void inc_at(std::size_t slot, std::size_t column) noexcept {
        cells_[slot * columns_.size() + column].fetch_add(1, std::memory_order_relaxed);
    }
    /// The sum of one column over every type.
    std::uint64_t total(std::size_t column) const noexcept {
        std::uint64_t sum = 0;
        for (std::size_t slot = 0; slot < types_.slots(); ++slot)
            sum += cells_[slot * columns_.size() + column].load(std::memory_order_relaxed);
        return sum;
    }
    /// The count of one cell (tests).
    std::uint64_t value(std::string_view type, std::size_t column) noexcept {
        return cells_[types_.slot(type) * columns_.size() + column].load(std::memory_order_relaxed);
    }

private:
    bounded_labels& types_;
    std::string column_label_;
    std::vector<std::string> columns_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> cells_;
};

}  // namespace pfo3::metrics
