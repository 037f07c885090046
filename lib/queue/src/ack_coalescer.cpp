#include "ack_coalescer.hpp"

#include <algorithm>

namespace pfo3::queue {

ack_coalescer::slot* ack_coalescer::find(std::uint64_t tag) {
    if (slots_.empty() || tag < slots_.front().tag) return nullptr;
    // Tags on a channel are consecutive, so the index is usually exact; search if not.
    const std::uint64_t guess = tag - slots_.front().tag;
    if (guess < slots_.size() && slots_[guess].tag == tag) return &slots_[guess];
    auto it = std::lower_bound(slots_.begin(), slots_.end(), tag,
                               [](const slot& s, std::uint64_t t) { return s.tag < t; });
    return it != slots_.end() && it->tag == tag ? &*it : nullptr;
}

void ack_coalescer::delivered(std::uint64_t tag) {
    if (!slots_.empty() && tag <= slots_.back().tag) slots_.clear();  // a new channel: start over
    slots_.push_back(slot{tag, state::open});
}

bool ack_coalescer::want_ack(std::uint64_t tag) {
    slot* s = find(tag);
    if (!s || s->st != state::open) return false;
    s->st = state::ack_wanted;
    return true;
}

void ack_coalescer::settled(std::uint64_t tag) {
    if (slot* s = find(tag)) s->st = state::done;
}

ack_coalescer::plan ack_coalescer::take() {
    plan p;
    // The front run of wanted or done slots goes in one multiple ack, named by its last
    // wanted tag (a tag the broker still holds unacked).
    while (!slots_.empty() && slots_.front().st != state::open) {
        if (slots_.front().st == state::ack_wanted) p.multiple_up_to = slots_.front().tag;
        slots_.pop_front();
    }
    for (auto& s : slots_) {
        if (s.st != state::ack_wanted) continue;
        p.singles.push_back(s.tag);
        s.st = state::done;
    }
    return p;
}

std::size_t ack_coalescer::unsettled() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(slots_.begin(), slots_.end(), [](const slot& s) { return s.st != state::done; }));
}

}  // namespace pfo3::queue
