// The hand-written RFC 3339 formatter must give exactly what the printf/gmtime_r one it
// replaced gave, for any instant: the old one is kept here as the reference.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>

#include "pfo3/core/clock.hpp"

namespace {

std::string printf_rfc3339(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    int frac = static_cast<int>(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

std::chrono::system_clock::time_point at_ms(std::int64_t ms) {
    return std::chrono::system_clock::time_point{std::chrono::milliseconds(ms)};
}

}  // namespace

TEST_CASE("rfc3339 text is the old printf text at calendar edges", "[clock]") {
    constexpr std::int64_t day = 86'400'000;
    // Leap days, century rules (1900 no, 2000 yes, 2100 no), year ends, the epoch, before it,
    // and the ends of what system_clock holds here (nanoseconds in 64 bits: 1677 to 2262; years
    // outside overflow the time_point itself, which UBSan reports).
    const std::int64_t edges[] = {0, -1, 1, 999, 1000, -999, -1000, -1001, day - 1, day, -day, -day - 1,
                                  951'782'400'000, 951'868'799'999, 951'868'800'000,  // 2000-02-29
                                  -2'203'977'600'000, -2'203'891'200'000,            // 1900-02-28/03-01
                                  4'107'456'000'000, 4'107'542'399'999,              // 2100-02-28
                                  1'764'296'334'123, 1'767'225'599'999, 1'767'225'600'000,
                                  -8'520'336'000'000, -8'520'336'000'001,            // 1700-01-01
                                  7'258'118'399'999, 7'258'118'400'000};             // 2200-01-01
    for (std::int64_t ms : edges) {
        INFO("ms since the epoch: " << ms);
        CHECK(pfo3::to_rfc3339(at_ms(ms)) == printf_rfc3339(at_ms(ms)));
    }
}

TEST_CASE("rfc3339 text is the old printf text for random instants of years 1700 to 2255", "[clock]") {
    std::mt19937_64 gen(17);
    std::uniform_int_distribution<std::int64_t> any(-8'520'336'000'000, 9'000'000'000'000);
    for (int i = 0; i < 200000; ++i) {
        const std::int64_t ms = any(gen);
        INFO("ms since the epoch: " << ms);
        REQUIRE(pfo3::to_rfc3339(at_ms(ms)) == printf_rfc3339(at_ms(ms)));
    }
}
