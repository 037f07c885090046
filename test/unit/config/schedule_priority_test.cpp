// [schedule] and [amqp] max_priority (decision 0012): their ranges, and where priorities are
// refused.
#include <catch2/catch.hpp>

#include "config_test_support.hpp"

using namespace pfo3::config;
using pfo3::config::test::error_of;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("[schedule] keys are read and bounded", "[parse][schedule]") {
    auto s = parse_settings("[schedule]\nunit_ms = 10\nmax_delay_s = 3600\n", "t.toml");
    CHECK(s.schedule.unit_ms == 10);
    CHECK(s.schedule.max_delay_s == 3600);
    CHECK(settings{}.schedule.unit_ms == 1000);
    CHECK(settings{}.schedule.max_delay_s == 2592000);
    CHECK_THAT(error_of([] { parse_settings("[schedule]\nunit_ms = 0\n", "t.toml"); }), Contains("schedule.unit_ms"));
    CHECK_THAT(error_of([] { parse_settings("[schedule]\nmax_delay_s = 4000001\n", "t.toml"); }),
               Contains("schedule.max_delay_s"));
}

TEST_CASE("max_priority is refused on the teaching queue and with quorum queues", "[parse][schedule]") {
    auto s = parse_settings("[amqp]\nqueue = \"jobs\"\nmax_priority = 5\n", "t.toml");
    CHECK(s.amqp.max_priority == 5);
    CHECK_NOTHROW(validate(s));
    s.amqp.queue = "tareas";
    CHECK_THAT(error_of([&] { validate(s); }), StartsWith("amqp.max_priority: cannot be used with the teaching queue"));
    s.amqp.queue = "jobs";
    s.amqp.queue_type = "quorum";
    CHECK_THAT(error_of([&] { validate(s); }), StartsWith("amqp.max_priority: cannot be used with quorum queues"));
    s.amqp.max_priority = 0;
    CHECK_NOTHROW(validate(s));
    CHECK_THAT(error_of([] { parse_settings("[amqp]\nmax_priority = 11\n", "t.toml"); }), Contains("amqp.max_priority"));
}
