#include "pfo3/queue/topology.hpp"

namespace pfo3::queue {

std::chrono::milliseconds retry_base_delay(const backoff_policy& p, int attempt) noexcept {
    backoff_policy exact = p;
    exact.jitter = 0;
    return backoff_delay(exact, attempt, 0.5);
}

std::chrono::milliseconds retry_delay(const backoff_policy& p, int attempt, double random01) noexcept {
    return backoff_delay(p, attempt, random01);
}

std::chrono::milliseconds retry_queue_expiry(std::chrono::milliseconds base_delay) noexcept {
    return 2 * base_delay + std::chrono::hours(1);
}

}  // namespace pfo3::queue
