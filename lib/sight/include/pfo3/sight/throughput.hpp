#pragma once
// Tasks per minute for the last hour, for the status page: 60 one-minute slots of four counts
// (accepted by serve; done, retried and dead as the workers' heartbeats report them). A slot is
// cleared when the clock reaches its minute again, so the ring never holds more than an hour.
// Thread-safe (one lock; a few updates a second at most).
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace pfo3::sight {

class throughput {
public:
    static constexpr std::size_t minutes = 60;
    enum class series : std::size_t { accepted = 0, done = 1, retried = 2, dead = 3 };

    /// Adds `n` to `s` in the minute of `now`.
    void add(series s, std::uint64_t n, std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
    /// {"minute_s":60,"until":UNIX,"accepted":[…60, oldest first…],"done":[…],"retried":[…],
    /// "dead":[…],"totals":{"accepted":…,…}} for the hour ending in the minute of `now`.
    std::string json(std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

private:
    struct slot {
        std::int64_t minute = -1;  // minutes since the epoch; -1: never used
        std::array<std::uint64_t, 4> counts{};
    };
    mutable std::mutex mu_;
    std::array<slot, minutes> ring_{};
};

}  // namespace pfo3::sight
