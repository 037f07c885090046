#include <catch2/catch.hpp>

#include <chrono>

#include "pfo3/core/clock.hpp"

using namespace std::chrono;

TEST_CASE("parse_rfc3339 reads what to_rfc3339 writes, offsets, and refuses the rest") {
    const auto t = system_clock::time_point(milliseconds(1764990000123));
    REQUIRE(pfo3::parse_rfc3339(pfo3::to_rfc3339(t)) == t);
    CHECK(pfo3::parse_rfc3339("1970-01-01T00:00:00Z") == system_clock::time_point{});
    CHECK(pfo3::parse_rfc3339("1970-01-01T01:00:00+01:00") == system_clock::time_point{});
    CHECK(pfo3::parse_rfc3339("1970-01-01T00:00:01.5Z") == system_clock::time_point(milliseconds(1500)));
    for (const char* bad : {"", "1970-01-01", "1970-01-01T00:00:00", "1970-13-01T00:00:00Z",
                            "1970-02-30T00:00:00Z", "1970-01-01T00:00:00.Z", "1970-01-01T00:00:00Zx",
                            "1970-01-01T00:00:00+0100"})
        CHECK_FALSE(pfo3::parse_rfc3339(bad));
}
