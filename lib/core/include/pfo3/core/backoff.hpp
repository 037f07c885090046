#pragma once
// Exponential backoff with jitter, for reconnects and (later) task retries.
#include <chrono>
#include <cstdint>

namespace pfo3 {

/// Parameters of an exponential backoff: wait n is base * factor^(n-1), capped, +- jitter.
struct backoff_policy {
    std::chrono::milliseconds base{100};
    double factor = 2.0;
    std::chrono::milliseconds max{10000};
    double jitter = 0.2;  ///< each wait varies by +- this fraction
    /// "Full jitter": each wait is uniform in [0, the capped exponential wait] and `jitter`
    /// is ignored. Many clients that lost the same broker then spread their reconnects
    /// instead of arriving together.
    bool full_jitter = false;
};

/// The wait before attempt `n` (n >= 1 is the first wait) with jitter drawn from `random01`
/// in [0, 1) (with full_jitter: exactly random01 times the capped wait). Pure: the caller supplies the randomness, so tests can pin it.
std::chrono::milliseconds backoff_delay(const backoff_policy& p, int n, double random01) noexcept;

/// A stateful backoff for one reconnect loop. Not thread-safe: one per loop.
class backoff {
public:
    explicit backoff(backoff_policy p) noexcept : p_(p) {}
    /// The same with its own random seed, so processes started together draw different waits.
    backoff(backoff_policy p, std::uint64_t seed) noexcept : p_(p), state_(seed | 1) {}
    /// The next wait; each call waits longer, up to the cap.
    std::chrono::milliseconds next() noexcept;
    /// Back to the first wait, after a success.
    void reset() noexcept { n_ = 0; }

private:
    backoff_policy p_;
    int n_ = 0;
    std::uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

}  // namespace pfo3
