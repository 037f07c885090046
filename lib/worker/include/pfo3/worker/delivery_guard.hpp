#pragma once
// A delivery in the worker's hands, settled exactly once. The guard is move-only: whoever holds
// it decides the delivery's fate (ack once its record is durable, or nack), and a guard dropped
// unsettled (an exception, a shutdown, a path nobody wrote) hands the delivery back to the
// broker with nack+requeue instead of leaving it unacked until the connection closes.
#include <cstdint>

#include "pfo3/queue/consumer.hpp"

namespace pfo3::worker {

/// Where acks and nacks go: the consumer that received the delivery. Implementations are
/// thread-safe and outlive every guard they settle.
class settler {
public:
    virtual ~settler() = default;
    virtual void ack(std::uint64_t generation, std::uint64_t tag) = 0;
    virtual void nack(std::uint64_t generation, std::uint64_t tag, bool requeue) = 0;
};

/// See the file comment.
class delivery_guard {
public:
    delivery_guard(queue::delivery d, settler& s) noexcept : d_(std::move(d)), settler_(&s) {}
    /// Unsettled: nack with requeue.
    ~delivery_guard();
    delivery_guard(delivery_guard&& other) noexcept;
    delivery_guard& operator=(delivery_guard&& other) noexcept;
    delivery_guard(const delivery_guard&) = delete;
    delivery_guard& operator=(const delivery_guard&) = delete;

    const queue::delivery& delivery() const noexcept { return d_; }
    /// True until ack() or nack() (or a move out of it).
    bool unsettled() const noexcept { return settler_ != nullptr; }
    /// The broker may forget the message. Settles the guard; a second settle does nothing.
    void ack() noexcept;
    /// Hands the message back (requeue) or drops it (no requeue). Settles the guard.
    void nack(bool requeue) noexcept;

private:
    queue::delivery d_;
    settler* settler_;  // null once settled or moved from
};

}  // namespace pfo3::worker
