#pragma once
// Turns the acks a worker asks for into as few basic.ack frames as the broker allows: one
// `multiple` ack for the longest run of settled deliveries at the front, single acks for the
// rest. Every basic.ack costs the broker's channel process a message and the worker a
// syscall, so acking 500 stored results with one frame is what lets the end-to-end rate
// approach the broker's own publish+consume rate. Owner-thread only; not thread-safe.
//
// A `multiple` ack for tag T settles every unacked delivery up to T on the channel, so it is
// only sent when each of those is ready to ack (or was settled already, by a nack or a single
// ack). No ack is ever held back waiting for an earlier delivery: a slow task at the front
// would otherwise pin the whole prefetch window.
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace pfo3::queue {

class ack_coalescer {
public:
    /// What to send now, in this order: `singles` one by one, then one ack with multiple=1
    /// up to `multiple_up_to`.
    struct plan {
        std::vector<std::uint64_t> singles;
        std::optional<std::uint64_t> multiple_up_to;
    };

    /// A delivery arrived with this tag (tags only grow on a channel).
    void delivered(std::uint64_t tag);
    /// The ack of `tag` was asked for; false if `tag` is not an unsettled delivery.
    bool want_ack(std::uint64_t tag);
    /// `tag` was settled some other way (a nack was sent for it).
    void settled(std::uint64_t tag);
    /// The acks to send for everything wanted so far; they count as sent afterwards.
    plan take();
    /// The channel is gone: forget everything.
    void reset() noexcept { slots_.clear(); }
    /// Deliveries not yet settled or sent.
    std::size_t unsettled() const noexcept;

private:
    enum class state : std::uint8_t { open, ack_wanted, done };
    struct slot {
        std::uint64_t tag;
        state st;
    };
    slot* find(std::uint64_t tag);

    std::deque<slot> slots_;  // in tag order; the front is the oldest not yet done
};

}  // namespace pfo3::queue
