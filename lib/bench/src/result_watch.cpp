#include "result_watch.hpp"

namespace pfo3::bench {

std::vector<stored_event> result_watch::take() {
    std::vector<std::pair<std::string, time_point>> got;
    time_point start;
    {
        std::lock_guard lk(mu_);
        got.swap(events_);
        start = start_;
    }
    std::vector<stored_event> out;
    out.reserve(got.size());
    for (auto& [id, at] : got)
        out.push_back(
            stored_event{std::move(id), std::chrono::duration_cast<std::chrono::nanoseconds>(at - start).count()});
    return out;
}

void result_watch::set_start(time_point start) {
    std::lock_guard lk(mu_);
    start_ = start;
}

bool result_watch::overflowed() const {
    std::lock_guard lk(mu_);
    return overflowed_;
}

void result_watch::add(std::vector<std::pair<std::string, time_point>>& batch) {
    std::lock_guard lk(mu_);
    for (auto& e : batch) events_.push_back(std::move(e));
    batch.clear();
}

void result_watch::mark_overflowed() {
    std::lock_guard lk(mu_);
    overflowed_ = true;
}

}  // namespace pfo3::bench
