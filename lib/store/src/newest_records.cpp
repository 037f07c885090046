#include "newest_records.hpp"

#include <algorithm>

namespace pfo3::store {

std::vector<const task_record*> newest_per_id(std::span<const task_record> group) {
    std::vector<const task_record*> sorted;
    sorted.reserve(group.size());
    for (const auto& r : group) sorted.push_back(&r);
    // Stable: the records of one id stay in the group's order, which decides between equals.
    std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->id < b->id; });
    std::vector<const task_record*> out;
    out.reserve(sorted.size());
    for (const task_record* r : sorted) {
        if (out.empty() || out.back()->id != r->id) out.push_back(r);
        else if (may_replace(*out.back(), *r)) out.back() = r;
    }
    return out;
}

std::string standing(const task_record& r) {
    return std::string(to_string(r.status)) + ", attempt " + std::to_string(r.attempts);
}

}  // namespace pfo3::store
