#include "pfo3/metrics/tasks_in_hand.hpp"

namespace pfo3::metrics {

tasks_in_hand::entry::entry(tasks_in_hand& owner, std::string_view id, std::string_view type)
    : owner_(owner), id_(id), type_(type), since_(std::chrono::steady_clock::now()) {
    std::lock_guard lk(owner_.mu_);
    prev_ = owner_.newest_;
    if (prev_)
        prev_->next_ = this;
    else
        owner_.oldest_ = this;
    owner_.newest_ = this;
    ++owner_.count_;
}

tasks_in_hand::entry::~entry() {
    std::lock_guard lk(owner_.mu_);
    (prev_ ? prev_->next_ : owner_.oldest_) = next_;
    (next_ ? next_->prev_ : owner_.newest_) = prev_;
    --owner_.count_;
}

tasks_in_hand::snapshot tasks_in_hand::take(std::size_t limit) const {
    const auto now = std::chrono::steady_clock::now();
    snapshot s;
    std::lock_guard lk(mu_);
    s.count = count_;
    for (const entry* e = oldest_; e && s.first.size() < limit; e = e->next_)
        s.first.push_back({std::string(e->id_), std::string(e->type_),
                           std::chrono::duration<double>(now - e->since_).count()});
    return s;
}

}  // namespace pfo3::metrics
