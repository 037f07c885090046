#include "url_rotation.hpp"

#include <numeric>
#include <utility>

#include "pfo3/core/error.hpp"

namespace pfo3::queue {

failover_order parse_failover_order(std::string_view text) {
    if (text == "round-robin") return failover_order::round_robin;
    if (text == "shuffle") return failover_order::shuffle;
    if (text == "in-order") return failover_order::in_order;
    throw config_error("amqp.failover: must be \"round-robin\", \"shuffle\" or \"in-order\", got \"" +
                       std::string(text.substr(0, 40)) + "\"");
}

namespace detail {

broker_failover with_urls(const amqp_url& url, broker_failover f) {
    if (f.urls.empty()) f.urls.push_back(url);
    return f;
}

url_rotation::url_rotation(std::size_t count, failover_order order, std::uint64_t seed)
    : kind_(order), order_(count == 0 ? 1 : count), state_(seed | 1) {
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    if (kind_ == failover_order::shuffle) reshuffle();
}

std::uint64_t url_rotation::random() noexcept {
    // xorshift64*: an order needs spread, not secrecy.
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
}

void url_rotation::reshuffle() noexcept {
    for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[random() % i]);
}

bool url_rotation::failed() noexcept {
    ++tried_;
    pos_ = (pos_ + 1) % order_.size();
    if (tried_ < order_.size()) return false;
    // Every URL failed once: a new round, after a backoff.
    tried_ = 0;
    if (kind_ == failover_order::shuffle) {
        reshuffle();
        pos_ = 0;
    } else if (kind_ == failover_order::in_order) {
        pos_ = 0;
    }
    return true;
}

void url_rotation::lost() noexcept {
    tried_ = 0;
    if (kind_ == failover_order::in_order) {
        // Back to the preferred (first) URL, unless that is the one just lost.
        pos_ = order_.size() > 1 && pos_ == 0 ? 1 : 0;
        return;
    }
    pos_ = (pos_ + 1) % order_.size();
}

}  // namespace detail

}  // namespace pfo3::queue
