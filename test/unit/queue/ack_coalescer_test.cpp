// Coalescing acks into `multiple` acks: pure logic, no broker.
#include <catch2/catch.hpp>

#include "ack_coalescer.hpp"

using pfo3::queue::ack_coalescer;

namespace {

ack_coalescer with_deliveries(std::uint64_t first, std::uint64_t last) {
    ack_coalescer a;
    for (auto t = first; t <= last; ++t) a.delivered(t);
    return a;
}

}  // namespace

TEST_CASE("acks for a run at the front become one multiple ack", "[ack_coalescer]") {
    auto a = with_deliveries(1, 5);
    for (std::uint64_t t : {3, 1, 2}) CHECK(a.want_ack(t));
    auto p = a.take();
    CHECK(p.singles.empty());
    REQUIRE(p.multiple_up_to);
    CHECK(*p.multiple_up_to == 3);
    CHECK(a.unsettled() == 2);
}

TEST_CASE("an ack behind an unfinished delivery is sent alone, never held back", "[ack_coalescer]") {
    auto a = with_deliveries(1, 4);
    CHECK(a.want_ack(2));
    CHECK(a.want_ack(4));
    auto p = a.take();
    CHECK_FALSE(p.multiple_up_to);
    CHECK(p.singles == std::vector<std::uint64_t>{2, 4});
    // Once 1 is acked, the run 1..2 is settled, but 2 was sent already: the multiple ack names 1.
    CHECK(a.want_ack(1));
    p = a.take();
    CHECK(p.singles.empty());
    REQUIRE(p.multiple_up_to);
    CHECK(*p.multiple_up_to == 1);
    CHECK(a.unsettled() == 1);  // 3
}

TEST_CASE("a nacked delivery inside the run is skipped, not acked", "[ack_coalescer]") {
    auto a = with_deliveries(10, 13);
    CHECK(a.want_ack(10));
    a.settled(11);  // nacked
    CHECK(a.want_ack(12));
    auto p = a.take();
    REQUIRE(p.multiple_up_to);
    CHECK(*p.multiple_up_to == 12);
    CHECK(p.singles.empty());
}

TEST_CASE("a run of only nacked deliveries sends no ack", "[ack_coalescer]") {
    auto a = with_deliveries(1, 2);
    a.settled(1);
    auto p = a.take();
    CHECK_FALSE(p.multiple_up_to);
    CHECK(p.singles.empty());
    CHECK(a.unsettled() == 1);
}

TEST_CASE("an ack for an unknown or already acked tag is refused", "[ack_coalescer]") {
    auto a = with_deliveries(1, 3);
    CHECK_FALSE(a.want_ack(7));
    CHECK_FALSE(a.want_ack(0));
    CHECK(a.want_ack(2));
    CHECK_FALSE(a.want_ack(2));
    (void)a.take();
    CHECK_FALSE(a.want_ack(2));  // sent as a single ack already
}

TEST_CASE("a new channel (tags start again) forgets the old deliveries", "[ack_coalescer]") {
    auto a = with_deliveries(1, 3);
    a.delivered(1);
    CHECK(a.unsettled() == 1);
    CHECK(a.want_ack(1));
    auto p = a.take();
    REQUIRE(p.multiple_up_to);
    CHECK(*p.multiple_up_to == 1);
    a.reset();
    CHECK(a.unsettled() == 0);
}

TEST_CASE("tags with gaps are still found", "[ack_coalescer]") {
    ack_coalescer a;
    for (std::uint64_t t : {2, 5, 9}) a.delivered(t);
    CHECK(a.want_ack(5));
    CHECK(a.want_ack(2));
    auto p = a.take();
    REQUIRE(p.multiple_up_to);
    CHECK(*p.multiple_up_to == 5);
    CHECK_FALSE(a.want_ack(4));
}
