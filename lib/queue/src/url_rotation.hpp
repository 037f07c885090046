#pragma once
// Private to the queue module: which broker URL a session tries next (failover.hpp). Pure
// bookkeeping over indexes, so the order of every strategy is unit-tested without a broker.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "pfo3/queue/failover.hpp"

namespace pfo3::queue::detail {

/// `f` with `url` as its only URL when it has none (what the roles' options mean by that).
broker_failover with_urls(const amqp_url& url, broker_failover f);

class url_rotation {
public:
    /// `count` URLs (>= 1); `seed` drives shuffle only.
    url_rotation(std::size_t count, failover_order order, std::uint64_t seed);

    /// The index of the URL to try now.
    std::size_t current() const noexcept { return order_[pos_]; }
    /// A connect to current() failed: move to the next URL. Returns true when that starts a
    /// new round (every URL failed once since the last success or loss): time to back off.
    bool failed() noexcept;
    /// The connection to current() was up and is lost: the next attempt goes to the next URL
    /// (in-order: back to the first), without backing off.
    void lost() noexcept;
    /// A connection is up on current(): a new round starts with the next failure.
    void connected() noexcept { tried_ = 0; }

private:
    void reshuffle() noexcept;
    std::uint64_t random() noexcept;

    failover_order kind_;
    std::vector<std::size_t> order_;  // a permutation of 0..count-1
    std::size_t pos_ = 0;
    std::size_t tried_ = 0;  // failed attempts in this round
    std::uint64_t state_;
};

}  // namespace pfo3::queue::detail
