#include <catch2/catch.hpp>

#include <set>

#include "pfo3/core/backoff.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task.hpp"
#include "pfo3/core/task_id.hpp"

using namespace pfo3;

TEST_CASE("task ids accept the documented alphabet and length", "[task_id]") {
    CHECK(is_valid_task_id("a"));
    CHECK(is_valid_task_id("Task-1_x.y:z"));
    CHECK(is_valid_task_id(std::string(128, 'a')));
    CHECK_FALSE(is_valid_task_id(""));
    CHECK_FALSE(is_valid_task_id(std::string(129, 'a')));
    CHECK_FALSE(is_valid_task_id("."));
    CHECK_FALSE(is_valid_task_id(".."));
    CHECK(is_valid_task_id("..."));
    CHECK_FALSE(is_valid_task_id("a/b"));
    CHECK_FALSE(is_valid_task_id("../etc/passwd"));
    CHECK_FALSE(is_valid_task_id("a b"));
    CHECK_FALSE(is_valid_task_id(std::string("a\0b", 3)));
    CHECK_FALSE(is_valid_task_id("caf\xc3\xa9"));
}

TEST_CASE("generated ids are valid UUIDv7 that sort by creation", "[task_id]") {
    std::string prev;
    std::set<std::string> seen;
    for (int i = 0; i < 20000; ++i) {
        auto id = make_task_id();
        REQUIRE(id.size() == 36);
        REQUIRE(is_valid_task_id(id));
        REQUIRE(id[14] == '7');
        REQUIRE((id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b'));
        REQUIRE(id > prev);
        prev = id;
        seen.insert(id);
    }
    CHECK(seen.size() == 20000);
}

TEST_CASE("rfc3339 renders UTC with milliseconds", "[clock]") {
    using namespace std::chrono;
    system_clock::time_point t{milliseconds(1764296334123)};
    CHECK(to_rfc3339(t) == "2025-11-28T02:18:54.123Z");
    CHECK(to_rfc3339(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("backoff grows by the factor, is capped and jittered within bounds", "[backoff]") {
    using namespace std::chrono;
    backoff_policy p{milliseconds(1000), 4.0, milliseconds(600000), 0.2};
    CHECK(backoff_delay(p, 1, 0.5) == milliseconds(1000));
    CHECK(backoff_delay(p, 2, 0.5) == milliseconds(4000));
    CHECK(backoff_delay(p, 3, 0.5) == milliseconds(16000));
    CHECK(backoff_delay(p, 20, 0.5) == milliseconds(600000));
    CHECK(backoff_delay(p, 1, 0.0) == milliseconds(800));
    CHECK(backoff_delay(p, 1, 0.999999) >= milliseconds(1199));
    backoff b(p);
    auto first = b.next();
    CHECK(first >= milliseconds(800));
    CHECK(first <= milliseconds(1200));
    for (int i = 0; i < 100; ++i) CHECK(b.next() <= milliseconds(720000));
    b.reset();
    CHECK(b.next() <= milliseconds(1200));
}

TEST_CASE("full-jitter backoff draws each wait from zero to the capped exponential wait", "[backoff]") {
    using namespace std::chrono;
    backoff_policy p{milliseconds(100), 2.0, milliseconds(5000), 0.2, /*full_jitter*/ true};
    CHECK(backoff_delay(p, 1, 0.0) == milliseconds(0));
    CHECK(backoff_delay(p, 1, 0.5) == milliseconds(50));
    CHECK(backoff_delay(p, 3, 0.999999) >= milliseconds(399));
    CHECK(backoff_delay(p, 3, 0.999999) <= milliseconds(400));
    CHECK(backoff_delay(p, 30, 0.999999) <= milliseconds(5000));
    // A stateful loop: every wait within [0, cap of its step]; the draws spread (not all equal),
    // and two seeds give two different sequences.
    backoff a(p, 1), b(p, 2);
    bool differ = false, spread = false;
    milliseconds previous{-1};
    for (int n = 1; n <= 40; ++n) {
        const auto ceiling = std::min(milliseconds(5000), milliseconds(100 << std::min(n - 1, 10)));
        const auto wa = a.next(), wb = b.next();
        CHECK(wa >= milliseconds(0));
        CHECK(wa <= ceiling);
        CHECK(wb <= ceiling);
        differ = differ || wa != wb;
        spread = spread || (previous.count() >= 0 && wa != previous && n > 8);
        previous = wa;
    }
    CHECK(differ);
    CHECK(spread);
}

TEST_CASE("request errors have stable wire codes", "[error]") {
    CHECK(wire_code(request_error::bad_json) == "bad_json");
    CHECK(wire_code(request_error::line_too_long) == "line_too_long");
    CHECK(wire_code(request_error::unavailable) == "unavailable");
    CHECK(wire_code(request_error::overloaded) == "overloaded");
    CHECK(wire_code(request_error::too_late) == "too_late");
    CHECK(wire_code(request_error::not_found) == "not_found");
    std::error_code ec = request_error::unknown_op;
    CHECK(ec.category().name() == std::string("pfo3.request"));
}

TEST_CASE("passwords in URLs are masked", "[log]") {
    CHECK(log::mask_url("amqp://guest:secret@host:5672/%2f") == "amqp://guest:***@host:5672/%2f");
    CHECK(log::mask_url("postgresql://u:p@h/db?sslmode=require") == "postgresql://u:***@h/db?sslmode=require");
    CHECK(log::mask_url("amqp://host/") == "amqp://host/");
    CHECK(log::mask_url("amqp://user@host/") == "amqp://user@host/");
    CHECK(log::mask_url("file:///var/lib/pfo3") == "file:///var/lib/pfo3");
    CHECK(log::mask_url("amqp://u:p%40ss@h/") == "amqp://u:***@h/");
}

TEST_CASE("task status names round-trip", "[task]") {
    for (auto s : {task_status::pending, task_status::done, task_status::failed, task_status::dead})
        CHECK(parse_task_status(to_string(s)) == s);
    CHECK_FALSE(parse_task_status("queued"));
}

TEST_CASE("rfc3339 text reads back to the time it names", "[clock]") {
    using namespace std::chrono;
    const auto t = sys_days(year(2025) / 11 / 28) + hours(2) + minutes(18) + seconds(54) + milliseconds(123);
    CHECK(parse_rfc3339("2025-11-28T02:18:54.123Z") == t);
    CHECK(parse_rfc3339(to_rfc3339(t)) == t);
    CHECK(parse_rfc3339("2025-11-28T03:18:54.123+01:00") == t);
    CHECK(parse_rfc3339("2025-11-27T23:48:54.1234-02:30") == t);
    CHECK(parse_rfc3339("2025-11-28 02:18:54z") == t - milliseconds(123));
    for (const char* bad : {"", "2025-11-28", "2025-11-28T02:18:54", "2025-02-30T00:00:00Z",
                            "2025-11-28T24:00:00Z", "2025-11-28T02:18:54.Z", "2025-11-28T02:18:54+0100",
                            "2025-11-28T02:18:54Z ", "tomorrow"})
        CHECK_FALSE(parse_rfc3339(bad));
}
