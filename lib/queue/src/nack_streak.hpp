#pragma once
// Private to the queue module: when a publisher's channel only nacks. After a failover,
// RabbitMQ 3.10 can leave a new channel's quorum-queue client refusing every publish (seen in
// the cluster stage: >1000 nacks in a row, for minutes, on a node whose queue had a leader
// again), while a fresh channel is fine. A connection that nacked `min_nacks` publishes in a
// row and acked none for `min_duration` is given up, so the session connects again (the next
// URL). A genuinely full queue (reject-publish) costs a reconnect per streak at most.
#include <chrono>
#include <cstddef>

namespace pfo3::queue::detail {

class nack_streak {
public:
    using clock = std::chrono::steady_clock;
    static constexpr std::size_t min_nacks = 100;
    static constexpr std::chrono::milliseconds min_duration{1000};

    /// `n` publishes were nacked at `now`.
    void nacked(std::size_t n, clock::time_point now) noexcept {
        if (count_ == 0) since_ = now;
        count_ += n;
        last_ = now;
    }
    /// A publish was acked: the channel works.
    void acked() noexcept { count_ = 0; }
    /// True when the channel looks stuck (see the file comment).
    bool stuck() const noexcept { return count_ >= min_nacks && last_ - since_ >= min_duration; }
    std::size_t count() const noexcept { return count_; }
    /// A new connection.
    void reset() noexcept { count_ = 0; }

private:
    std::size_t count_ = 0;
    clock::time_point since_{}, last_{};
};

}  // namespace pfo3::queue::detail
