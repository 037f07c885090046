#include "pfo3/metrics/bounded_labels.hpp"

#include <bit>
#include <functional>
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

std::size_t bounded_labels::slot(std::string_view value) noexcept {
    const std::size_t mask = capacity_ - 1;
    std::size_t i = std::hash<std::string_view>{}(value) & mask;
    // A table at most half full always has a free slot, so the probe ends.
    for (;; i = (i + 1) & mask) {
        std::string* held = table_[i].load(std::memory_order_acquire);
        if (held) {
            if (*held == value) return i;
            continue;
        }
        // A free slot: `value` is new. Reserve room under the limit first, so that racing
        // inserts of different values can never hold more than `limit` between them.
        if (used_.fetch_add(1, std::memory_order_relaxed) >= limit_) {
            used_.fetch_sub(1, std::memory_order_relaxed);
            return other_slot();
        }
        std::string* mine;
        try {
            mine = new std::string(value);
        } catch (...) {
            used_.fetch_sub(1, std::memory_order_relaxed);
            return other_slot();  // out of memory: count it, do not fail the task
        }
        std::string* expected = nullptr;
        if (table_[i].compare_exchange_strong(expected, mine, std::memory_order_acq_rel)) return i;
        // Another thread took the slot first: maybe with the same value, else probe on.
        used_.fetch_sub(1, std::memory_order_relaxed);
        const bool same = *expected == value;
        delete mine;
        if (same) return i;
    }
}

const std::string* bounded_labels::value_at(std::size_t slot) const noexcept {
    if (slot == other_slot()) return &other_value_;
    if (slot > capacity_) return nullptr;
    return table_[slot].load(std::memory_order_acquire);
}

}  // namespace pfo3::metrics
