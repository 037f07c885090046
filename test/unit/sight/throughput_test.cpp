// The status page's throughput ring over more than an hour of a clock the test moves: minutes
// roll, an hour-old minute drops out, minutes without events (and a jump past the whole ring)
// read as zero. Checked against a plain map of what was added, minute by minute.
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pfo3/sight/throughput.hpp"

using pfo3::sight::throughput;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

using counts = std::array<std::uint64_t, 4>;
using clock_point = std::chrono::system_clock::time_point;

// Minute 0 of the test: an arbitrary minute well after the epoch, not a multiple of 60 minutes.
const clock_point t0{minutes(29'000'017)};

// The numbers of `"name":[a,b,...]` in `json`.
std::vector<std::uint64_t> column(const std::string& json, const std::string& name) {
    const std::string key = "\"" + name + "\":[";
    const auto at = json.find(key);
    REQUIRE(at != std::string::npos);
    const auto end = json.find(']', at);
    REQUIRE(end != std::string::npos);
    std::vector<std::uint64_t> out;
    std::size_t pos = at + key.size();
    while (pos < end) {
        std::size_t used = 0;
        out.push_back(std::stoull(json.substr(pos, end - pos), &used));
        pos += used + 1;  // the number and its comma
    }
    return out;
}

std::uint64_t total(const std::string& json, const std::string& name) {
    const auto totals = json.find("\"totals\":{");
    REQUIRE(totals != std::string::npos);
    const std::string key = "\"" + name + "\":";
    const auto at = json.find(key, totals);
    REQUIRE(at != std::string::npos);
    return std::stoull(json.substr(at + key.size()));
}

const std::array<std::string, 4> names = {"accepted", "done", "retried", "dead"};

// What the ring must show at minute `now` (minutes since t0): the 60 minutes ending there,
// oldest first, from `added` (minute -> counts).
void check_against(const throughput& t, const std::map<long, counts>& added, long now) {
    const auto json = t.json(t0 + minutes(now) + seconds(59));
    INFO("at minute " << now << ": " << json);
    const auto epoch_minute = std::chrono::duration_cast<minutes>(t0.time_since_epoch()).count() + now;
    CHECK(json.find("\"until\":" + std::to_string((epoch_minute + 1) * 60) + ",") != std::string::npos);
    for (std::size_t s = 0; s < 4; ++s) {
        std::vector<std::uint64_t> expected(throughput::minutes, 0);
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < throughput::minutes; ++i) {
            const long m = now - static_cast<long>(throughput::minutes - 1 - i);
            if (auto it = added.find(m); it != added.end()) expected[i] = it->second[s];
            sum += expected[i];
        }
        INFO(names[s]);
        CHECK(column(json, names[s]) == expected);
        CHECK(total(json, names[s]) == sum);
    }
}

}  // namespace

TEST_CASE("throughput over two hours: minutes roll, an hour-old minute drops, gaps and a jump past the ring read zero") {
    throughput t;
    std::map<long, counts> added;  // minute since t0 -> what was added in it
    const auto add = [&](long minute, int second, throughput::series s, std::uint64_t n) {
        t.add(s, n, t0 + minutes(minute) + seconds(second));
        added[minute][static_cast<std::size_t>(s)] += n;
    };
    using S = throughput::series;

    // Minutes 0-9 busy, several events a minute (the first and the last second of each).
    for (long m = 0; m < 10; ++m) {
        add(m, 0, S::accepted, static_cast<std::uint64_t>(m + 1));
        add(m, 59, S::accepted, 100);
        add(m, 30, S::done, static_cast<std::uint64_t>(2 * m + 1));
        check_against(t, added, m);
    }
    // Seven quiet minutes: the ring shows them as zero, the busy ones still there.
    for (long m = 10; m < 17; ++m) check_against(t, added, m);
    add(17, 5, S::retried, 4);
    add(17, 6, S::dead, 1);
    check_against(t, added, 17);
    // Every third minute past the hour: minute 0 leaves the window at minute 60, minute 9 at 69.
    for (long m = 18; m <= 75; ++m) {
        if (m % 3 == 0) add(m, 10, S::accepted, 2);
        if (m % 3 == 0) add(m, 11, S::done, 2);
        check_against(t, added, m);
        const auto json = t.json(t0 + minutes(m));
        if (m == 59) {
            CHECK(column(json, "accepted").front() == 101);  // minute 0: its 1 + 100
            CHECK(column(json, "accepted").back() == 0);     // minute 59: not a multiple of 3
            CHECK(total(json, "accepted") == 1055 + 2 * 14);  // minutes 0-9, then 18, 21 ... 57
        }
        if (m == 60) {
            CHECK(column(json, "accepted").front() == 102);  // minute 1 is the oldest now
            CHECK(column(json, "accepted").back() == 2);     // minute 60, in minute 0's slot
            CHECK(total(json, "accepted") == 1055 + 2 * 14 - 101 + 2);
        }
    }
    // A jump larger than the ring (150 minutes without an event): nothing of before is shown,
    // also not from the slot the new minute takes over (228 = 48 + 3 x 60, and 48 had events).
    check_against(t, added, 225);
    CHECK(t.json(t0 + minutes(228)).find("\"totals\":{\"accepted\":0,\"done\":0,\"retried\":0,\"dead\":0}") !=
          std::string::npos);
    add(228, 0, S::accepted, 9);
    add(228, 1, S::dead, 3);
    check_against(t, added, 228);
    CHECK(column(t.json(t0 + minutes(228)), "accepted").back() == 9);  // not 9 + minute 48's 2
    // Then five quiet minutes, an event, and on past the hour after it.
    add(234, 20, S::done, 7);
    for (long m = 228; m <= 300; ++m) check_against(t, added, m);
    CHECK(column(t.json(t0 + minutes(293)), "done").front() == 7);  // 234 is still the oldest
    CHECK(column(t.json(t0 + minutes(294)), "done").front() == 0);  // 235: 234 just left
    CHECK(total(t.json(t0 + minutes(294)), "done") == 0);
}

TEST_CASE("throughput: adding nothing adds no minute, and a reader behind the ring's newest minute sees only its hour") {
    throughput t;
    t.add(throughput::series::done, 0, t0);
    CHECK(column(t.json(t0), "done") == std::vector<std::uint64_t>(throughput::minutes, 0));
    // A reader whose clock is an hour behind the writer's (another host's page): the newer
    // minute is not in its hour, so it is not shown as one of its minutes.
    t.add(throughput::series::done, 5, t0 + minutes(60));
    CHECK(total(t.json(t0), "done") == 0);
    CHECK(total(t.json(t0 + minutes(60)), "done") == 5);
}
