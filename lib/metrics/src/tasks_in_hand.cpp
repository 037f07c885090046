#include "pfo3/metrics/tasks_in_hand.hpp"

namespace pfo3::metrics {

tasks_in_hand::entry::entry(tasks_in_hand& owner, std::string_view id, std::string_view type) : owner_(owner) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lk(owner_.mu_);
    if (owner_.held_.size() >= max_held) return;
    ticket_ = owner_.next_++;
    owner_.held_.emplace(ticket_, held{std::string(id), std::string(type), now});
}

tasks_in_hand::entry::~entry() {
    if (ticket_ == 0) return;
    std::lock_guard lk(owner_.mu_);
    owner_.held_.erase(ticket_);
}

tasks_in_hand::snapshot tasks_in_hand::take(std::size_t limit) const {
    const auto now = std::chrono::steady_clock::now();
    snapshot s;
    std::lock_guard lk(mu_);
    s.count = held_.size();
    for (auto it = held_.begin(); it != held_.end() && s.first.size() < limit; ++it)
        s.first.push_back({it->second.id, it->second.type,
                           std::chrono::duration<double>(now - it->second.since).count()});
    return s;
}

}  // namespace pfo3::metrics
