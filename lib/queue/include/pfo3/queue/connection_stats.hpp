#pragma once
// What a publisher or consumer tells about its broker connection, for /metrics and /readyz:
// plain atomics the connection's owner thread updates and any thread reads. Optional: the
// owner passes a pointer in the options (nullptr: nothing is counted).
#include <atomic>
#include <cstdint>

namespace pfo3::queue {

struct connection_stats {
    std::atomic<bool> up{false};                       ///< connected and set up
    std::atomic<std::uint64_t> connects{0};            ///< successful connections (the first included)
    std::atomic<std::uint64_t> lost{0};                ///< connections lost while in use
    std::atomic<std::uint64_t> failed_attempts{0};     ///< connection attempts that failed
    std::atomic<std::uint64_t> confirm_timeouts{0};    ///< publishes with no confirm in time (publisher)
    std::atomic<std::uint32_t> url_index{0};           ///< the broker URL (of the list) last connected to
};

}  // namespace pfo3::queue
