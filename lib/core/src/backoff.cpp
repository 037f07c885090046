#include "pfo3/core/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace pfo3 {

std::chrono::milliseconds backoff_delay(const backoff_policy& p, int n, double random01) noexcept {
    if (n < 1) n = 1;
    double base = static_cast<double>(p.base.count());
    double cap = static_cast<double>(p.max.count());
    double d = std::min(cap, base * std::pow(p.factor, n - 1));
    if (p.full_jitter) return std::chrono::milliseconds(static_cast<long long>(d * std::clamp(random01, 0.0, 1.0)));
    double j = std::clamp(p.jitter, 0.0, 1.0);
    d *= 1.0 + j * (2.0 * std::clamp(random01, 0.0, 1.0) - 1.0);
    return std::chrono::milliseconds(static_cast<long long>(std::max(0.0, d)));
}

std::chrono::milliseconds backoff::next() noexcept {
    // xorshift64*: jitter needs spread, not secrecy.
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    double r = static_cast<double>((state_ * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
    if (n_ < 64) ++n_;
    return backoff_delay(p_, n_, r);
}

}  // namespace pfo3
