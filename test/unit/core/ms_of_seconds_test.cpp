// Durations the config and the CLI give in seconds, as the milliseconds code waits.
#include <catch2/catch.hpp>

#include "pfo3/core/clock.hpp"

using namespace pfo3;
using std::chrono::milliseconds;

TEST_CASE("seconds become the nearest whole milliseconds, not a truncated product") {
    CHECK(ms_of_seconds(1.001) == milliseconds(1001));  // 1.001 * 1000 is 1000.999…: truncating gives 1000
    CHECK(ms_of_seconds(2.5) == milliseconds(2500));
    CHECK(ms_of_seconds(0) == milliseconds(0));
    CHECK(ms_of_seconds(0.0004) == milliseconds(0));
    CHECK(ms_of_seconds(0.0006) == milliseconds(1));
    CHECK(ms_of_seconds(86400) == milliseconds(86400000));
}
