#include "in_doubt_ids.hpp"

namespace pfo3::queue::detail {

void in_doubt_ids::add(const std::string& id, clock::time_point now) {
    if (capacity_ == 0) return;
    expire(now);
    while (order_.size() >= capacity_) {
        auto it = by_id_.find(order_.front().first);
        if (--it->second == 0) by_id_.erase(it);
        order_.pop_front();
    }
    order_.emplace_back(id, now);
    ++by_id_[id];
}

bool in_doubt_ids::contains(const std::string& id, clock::time_point now) {
    if (by_id_.empty()) return false;
    expire(now);
    return by_id_.contains(id);
}

void in_doubt_ids::expire(clock::time_point now) {
    while (!order_.empty() && now - order_.front().second >= keep_) {
        auto it = by_id_.find(order_.front().first);
        if (--it->second == 0) by_id_.erase(it);
        order_.pop_front();
    }
}

}  // namespace pfo3::queue::detail
