#include "pfo3/queue/topology.hpp"

#include <bit>

namespace pfo3::queue {

std::chrono::milliseconds retry_delay(const backoff_policy& p, int attempt, double random01) noexcept {
    return backoff_delay(p, attempt, random01);
}

std::int64_t delay_units(std::chrono::milliseconds wait, std::chrono::milliseconds unit) noexcept {
    if (wait.count() <= 0 || unit.count() <= 0) return 0;
    return (wait.count() + unit.count() - 1) / unit.count();
}

int delay_levels(std::int64_t units) noexcept {
    return units <= 0 ? 0 : std::bit_width(static_cast<std::uint64_t>(units));
}

std::string delay_routing_key(std::int64_t units) {
    std::string key;
    for (int level = delay_levels(units) - 1; level >= 0; --level) {
        if (!key.empty()) key += '.';
        key += ((units >> level) & 1) ? '1' : '0';
    }
    return key;
}

std::string delay_binding(int level, bool waits) {
    std::string key = waits ? "#.1" : "#.0";
    for (int i = 0; i < level; ++i) key += ".*";
    return key;
}

}  // namespace pfo3::queue
