#include "pfo3/metrics/bounded_labels.hpp"

#include <bit>
#include <functional>
#include <optional>
#include <stdexcept>

namespace pfo3::metrics {

bounded_labels::bounded_labels(std::size_t limit)
    : limit_(limit), capacity_(std::bit_ceil(std::max<std::size_t>(2 * limit, 2))) {
    if (limit < 1 || limit > 100000) throw std::invalid_argument("bounded_labels: limit must be 1..100000");
    table_.reset(new std::atomic<std::string*>[capacity_]);
    for (std::size_t i = 0; i < capacity_; ++i) table_[i].store(nullptr, std::memory_order_relaxed);
}

bounded_labels::~bounded_labels() {
    for (std::size_t i = 0; i < capacity_; ++i) delete table_[i].load(std::memory_order_relaxed);
}

std::optional<std::size_t> bounded_labels::find(std::string_view value, std::size_t& free) const noexcept {
    const std::size_t mask = capacity_ - 1;
    // A table at most half full always has a free slot, so the probe ends.
    for (std::size_t i = std::hash<std::string_view>{}(value) & mask;; i = (i + 1) & mask) {
        const std::string* held = table_[i].load(std::memory_order_acquire);
        if (!held) {
            free = i;
            return std::nullopt;
        }
        if (*held == value) return i;
    }
}

std::size_t bounded_labels::slot(std::string_view value) noexcept {
    std::size_t free = 0;
    // The hot path: a value already held is found without a lock.
    if (auto held = find(value, free)) return *held;
    // Full: every insert happened before `used_` reached the limit (stored, then counted), so
    // one more look sees the final table; a value not in it is `_other`.
    if (used_.load(std::memory_order_acquire) >= limit_) {
        if (auto held = find(value, free)) return *held;
        return other_slot();
    }
    // Inserts take the lock, so two threads inserting one value agree on its slot and racing
    // inserts of different values never hold more than `limit` between them.
    std::lock_guard lock(insert_mutex_);
    if (auto held = find(value, free)) return *held;
    if (used_.load(std::memory_order_relaxed) >= limit_) return other_slot();
    std::string* mine = nullptr;
    try {
        mine = new std::string(value);
    } catch (...) {
        return other_slot();  // out of memory: count it, do not fail the task
    }
    table_[free].store(mine, std::memory_order_release);
    used_.fetch_add(1, std::memory_order_release);
    return free;
}

const std::string* bounded_labels::value_at(std::size_t slot) const noexcept {
    if (slot == other_slot()) return &other_value_;
    if (slot > capacity_) return nullptr;
    return table_[slot].load(std::memory_order_acquire);
}

}  // namespace pfo3::metrics
