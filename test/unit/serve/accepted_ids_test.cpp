#include <catch2/catch.hpp>

#include <string>

#include "pfo3/serve/accepted_ids.hpp"

using pfo3::serve::accepted_ids;

TEST_CASE("accepted ids are known, others are not") {
    accepted_ids ids(1000);
    ids.add("order-1");
    ids.add("order-2");
    CHECK(ids.contains("order-1"));
    CHECK(ids.contains("order-2"));
    CHECK_FALSE(ids.contains("order-3"));
    CHECK_FALSE(ids.contains(""));
}

TEST_CASE("accepted ids keep at least the newest half of their capacity and forget older ones") {
    const std::size_t capacity = 1000;
    accepted_ids ids(capacity);
    const int total = 10000;
    for (int i = 0; i < total; ++i) ids.add("t-" + std::to_string(i));
    for (int i = total - static_cast<int>(capacity / 2); i < total; ++i)
        REQUIRE(ids.contains("t-" + std::to_string(i)));
    int old_known = 0;
    for (int i = 0; i < total - static_cast<int>(capacity); ++i) old_known += ids.contains("t-" + std::to_string(i));
    CHECK(old_known == 0);
}

TEST_CASE("an id added again is not counted twice") {
    accepted_ids ids(4);  // two per generation
    ids.add("a");
    ids.add("a");
    ids.add("a");
    ids.add("b");  // the generation is full only now
    ids.add("c");  // rotates: a and b are the older generation
    CHECK(ids.contains("a"));
    CHECK(ids.contains("b"));
    CHECK(ids.contains("c"));
}

TEST_CASE("accepted ids of capacity 0 remember nothing") {
    accepted_ids ids(0);
    ids.add("a");
    CHECK_FALSE(ids.contains("a"));
}
