#include "pfo3/serve/accepted_ids.hpp"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

namespace pfo3::serve {

void accepted_ids::table::free_deleter::operator()(std::uint64_t* p) const noexcept { std::free(p); }

void accepted_ids::table::insert(std::uint64_t h) noexcept {
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        if (slots[i] == h) return;
        if (slots[i] == 0) {
            slots[i] = h;
            ++used;
            return;
        }
    }
}

bool accepted_ids::table::find(std::uint64_t h) const noexcept {
    if (!slots) return false;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        if (slots[i] == h) return true;
        if (slots[i] == 0) return false;
    }
}

void accepted_ids::table::clear() noexcept {
    std::memset(slots.get(), 0, (mask + 1) * sizeof(std::uint64_t));
    used = 0;
}

accepted_ids::accepted_ids(std::size_t capacity) : per_generation_(capacity == 0 ? 0 : (capacity + 1) / 2) {
    if (per_generation_ == 0) return;
    // At most half full, so a probe ends after a couple of slots.
    const std::size_t slots = std::bit_ceil(per_generation_ * 2);
    for (auto* t : {&current_, &previous_}) {
        // calloc: the kernel hands zeroed pages in as they are touched, so a large capacity
        // costs memory only as ids arrive.
        t->slots.reset(static_cast<std::uint64_t*>(std::calloc(slots, sizeof(std::uint64_t))));
        if (!t->slots) throw std::bad_alloc();
        t->mask = slots - 1;
    }
}

std::uint64_t accepted_ids::hash_of(std::string_view id) noexcept {
    const std::uint64_t h = std::hash<std::string_view>{}(id);
    return h == 0 ? 1 : h;  // 0 marks an empty slot
}

void accepted_ids::add(std::string_view id) {
    if (per_generation_ == 0) return;
    const auto h = hash_of(id);
    std::lock_guard lk(mu_);
    if (current_.used >= per_generation_) {
        std::swap(current_, previous_);
        current_.clear();
    }
    current_.insert(h);
}

bool accepted_ids::contains(std::string_view id) const {
    if (per_generation_ == 0) return false;
    const auto h = hash_of(id);
    std::lock_guard lk(mu_);
    return current_.find(h) || previous_.find(h);
}

}  // namespace pfo3::serve
