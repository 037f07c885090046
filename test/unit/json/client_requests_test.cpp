// The request lines `pfo3 send`, `status` and `cancel` write.
#include <catch2/catch.hpp>

#include "pfo3/core/clock.hpp"
#include "pfo3/json/client_requests.hpp"

using namespace pfo3;

TEST_CASE("status and cancel requests quote the id and add a reason only when given") {
    CHECK(json::encode_status_request("a\"b") == "{\"op\":\"status\",\"id\":\"a\\\"b\"}");
    CHECK(json::encode_cancel_request("x", "") == "{\"op\":\"cancel\",\"id\":\"x\"}");
    CHECK(json::encode_cancel_request("x", "no longer needed") ==
          "{\"op\":\"cancel\",\"id\":\"x\",\"reason\":\"no longer needed\"}");
}

TEST_CASE("a payload's schedule becomes run_at, delay_s and priority, and a bad one is a problem") {
    std::string fields;
    CHECK(!json::schedule_fields({std::nullopt, std::string("90m"), 7}, fields));
    CHECK(fields == ",\"delay_s\":5400,\"priority\":7");
    CHECK(json::encode_submit("echo", fields, "hi") == "{\"type\":\"echo\",\"delay_s\":5400,\"priority\":7,\"payload\":\"hi\"}");
    fields.clear();
    CHECK(!json::schedule_fields({std::string("2026-12-06T18:00:00Z"), std::nullopt, std::nullopt}, fields));
    CHECK(fields == ",\"run_at\":\"2026-12-06T18:00:00Z\"");
    fields.clear();
    CHECK(json::schedule_fields({std::string("2026-12-06T18:00:00Z"), std::string("1h"), std::nullopt}, fields));
    CHECK(json::schedule_fields({std::string("tomorrow"), std::nullopt, std::nullopt}, fields));
    CHECK(json::schedule_fields({std::nullopt, std::string("367d"), std::nullopt}, fields));  // more than a year
    CHECK(json::schedule_fields({std::nullopt, std::string("5w"), std::nullopt}, fields));
}

TEST_CASE("durations: digits and one unit of s, m, h, d") {
    CHECK(parse_duration_s("90") == 90);
    CHECK(parse_duration_s("90s") == 90);
    CHECK(parse_duration_s("2h") == 7200);
    CHECK(parse_duration_s("1d") == 86400);
    CHECK(!parse_duration_s(""));
    CHECK(!parse_duration_s("m"));
    CHECK(!parse_duration_s("1.5h"));
    CHECK(!parse_duration_s("1234567890"));  // ten digits: the tenth is no unit
}
