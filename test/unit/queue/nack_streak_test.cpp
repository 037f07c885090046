// When a publisher gives up a channel that only nacks (nack_streak.hpp).
#include <catch2/catch.hpp>

#include "nack_streak.hpp"

using pfo3::queue::detail::nack_streak;
using namespace std::chrono_literals;

TEST_CASE("a channel is stuck after 100 nacks in a row over a second, and an ack clears it", "[nack_streak]") {
    nack_streak s;
    const auto t0 = nack_streak::clock::now();
    s.nacked(99, t0);
    s.nacked(1, t0 + 500ms);
    CHECK_FALSE(s.stuck());  // many, but within half a second: a burst, e.g. a full queue for a moment
    s.nacked(1, t0 + 1000ms);
    CHECK(s.stuck());
    s.acked();
    CHECK_FALSE(s.stuck());
    s.nacked(5, t0 + 5s);
    s.nacked(5, t0 + 9s);
    CHECK_FALSE(s.stuck());  // long, but few
    s.reset();
    CHECK(s.count() == 0);
}
