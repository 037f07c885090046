// The publisher's memory of ids whose publish ended in doubt (in_doubt_ids.hpp).
#include <catch2/catch.hpp>

#include "in_doubt_ids.hpp"

using pfo3::queue::detail::in_doubt_ids;
using namespace std::chrono_literals;

TEST_CASE("an id in doubt is remembered until it is older than the keep time", "[in_doubt_ids]") {
    in_doubt_ids ids(10, 60s);
    const auto t0 = in_doubt_ids::clock::now();
    CHECK_FALSE(ids.contains("a", t0));
    ids.add("a", t0);
    CHECK(ids.contains("a", t0 + 59s));
    CHECK_FALSE(ids.contains("b", t0 + 59s));
    CHECK_FALSE(ids.contains("a", t0 + 60s));
    CHECK(ids.size() == 0);
}

TEST_CASE("in-doubt ids are bounded: the oldest go first", "[in_doubt_ids]") {
    in_doubt_ids ids(3, 60s);
    const auto t0 = in_doubt_ids::clock::now();
    for (const char* id : {"a", "b", "c", "d"}) ids.add(id, t0);
    CHECK(ids.size() == 3);
    CHECK_FALSE(ids.contains("a", t0));
    CHECK(ids.contains("b", t0));
    CHECK(ids.contains("d", t0));
}

TEST_CASE("an id in doubt twice stays until its newest entry goes", "[in_doubt_ids]") {
    in_doubt_ids ids(3, 60s);
    const auto t0 = in_doubt_ids::clock::now();
    ids.add("a", t0);
    ids.add("a", t0 + 30s);
    CHECK(ids.contains("a", t0 + 70s));  // the first entry expired, the second holds it
    CHECK_FALSE(ids.contains("a", t0 + 90s));
    ids.add("x", t0 + 100s);
    ids.add("y", t0 + 100s);
    ids.add("x", t0 + 100s);
    ids.add("z", t0 + 100s);  // pushes the first "x" out; the second keeps it
    CHECK(ids.contains("x", t0 + 100s));
    CHECK(ids.size() == 3);
}
