// [http] metrics (a boolean) and heartbeat_s = 0: the switches that turn the roles' metrics and
// heartbeats off, so their cost can be measured (test/bench/run.sh --sight).
#include <catch2/catch.hpp>

#include "config_test_support.hpp"
#include "pfo3/config/load.hpp"

using namespace pfo3::config;
using namespace pfo3::config::test;

namespace {

std::string http_error(std::string_view text) {
    return error_of([&] { parse_settings(text, "pfo3.toml"); });
}

}  // namespace

TEST_CASE("[http] metrics is a boolean, on by default") {
    CHECK(settings{}.http.metrics);
    CHECK(parse_settings("[http]\n", "pfo3.toml").http.metrics);
    CHECK_FALSE(parse_settings("[http]\nmetrics = false\n", "pfo3.toml").http.metrics);
    CHECK(parse_settings("[http]\nmetrics = true\n", "pfo3.toml").http.metrics);
    // Read beside the table's keys, in any order.
    const auto s = parse_settings("[http]\nheartbeat_s = 2\nmetrics = false\nqueue_check_s = 3\n", "pfo3.toml");
    CHECK_FALSE(s.http.metrics);
    CHECK(s.http.heartbeat_s == 2);
    CHECK(s.http.queue_check_s == 3);
}

TEST_CASE("[http] metrics of another type is refused with its file, line and key") {
    CHECK(http_error("[http]\nmetrics = \"false\"\n") ==
          "pfo3.toml:2: http.metrics: expected a boolean (true or false), got a string");
    CHECK(http_error("[http]\nlisten = \"off\"\nmetrics = 0\n") ==
          "pfo3.toml:3: http.metrics: expected a boolean (true or false), got an integer");
    CHECK(http_error("[http]\nmetric = false\n") ==
          "pfo3.toml:2: http.metric: unknown key (did you mean http.metrics?)");
}

TEST_CASE("http.heartbeat_s = 0 means no heartbeats, and negative values are refused") {
    CHECK(parse_settings("[http]\nheartbeat_s = 0\n", "pfo3.toml").http.heartbeat_s == 0);
    CHECK(http_error("[http]\nheartbeat_s = -1\n") == "pfo3.toml:2: http.heartbeat_s: must be between 0 and 3600, got -1");
    settings s;
    s.http.heartbeat_s = 0;
    CHECK_NOTHROW(validate(s));
    s.http.heartbeat_s = 3601;
    CHECK_THROWS_WITH(validate(s), Catch::Contains("http.heartbeat_s"));
}
