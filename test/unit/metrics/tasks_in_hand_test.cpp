#include <catch2/catch.hpp>

#include <optional>

#include "pfo3/metrics/tasks_in_hand.hpp"

using pfo3::metrics::tasks_in_hand;

TEST_CASE("tasks in hand: listed oldest first while held, bounded by the limit, gone when left") {
    tasks_in_hand h;
    std::optional<tasks_in_hand::entry> a, b, c;
    a.emplace(h, "a", "echo");
    b.emplace(h, "b", "sleep");
    c.emplace(h, "c", "echo");
    auto s = h.take(2);
    CHECK(s.count == 3);
    REQUIRE(s.first.size() == 2);
    CHECK(s.first[0].id == "a");
    CHECK(s.first[1].id == "b");
    CHECK(s.first[1].type == "sleep");
    CHECK(s.first[0].age_s >= 0);
    b.reset();  // from the middle
    s = h.take(20);
    CHECK(s.count == 2);
    CHECK(s.first[0].id == "a");
    CHECK(s.first[1].id == "c");
    a.reset();  // the oldest
    b.emplace(h, "d", "echo");
    s = h.take(20);
    REQUIRE(s.first.size() == 2);
    CHECK(s.first[0].id == "c");
    CHECK(s.first[1].id == "d");
    b.reset();  // the newest
    c.reset();
    CHECK(h.take(20).count == 0);
    CHECK(h.take(20).first.empty());
}
