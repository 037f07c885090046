#include <catch2/catch.hpp>

#include <string>

#include "pfo3/json/cancel_event.hpp"

using pfo3::json::cancel_event;

TEST_CASE("a cancel event reads back as it was written") {
    const std::string body = pfo3::json::encode_cancel_event({"report-7", "cancel requested: \"quoted\" ñ"});
    cancel_event ev;
    std::string why;
    REQUIRE(pfo3::json::decode_cancel_event(body, ev, why));
    CHECK(ev.id == "report-7");
    CHECK(ev.why == "cancel requested: \"quoted\" ñ");
}

TEST_CASE("what is no cancel event of a valid id is refused") {
    cancel_event ev;
    std::string why;
    CHECK_FALSE(pfo3::json::decode_cancel_event(R"({"kind":"worker","id":"h:1"})", ev, why));
    CHECK_FALSE(pfo3::json::decode_cancel_event(R"({"kind":"cancel"})", ev, why));
    CHECK_FALSE(pfo3::json::decode_cancel_event(R"({"kind":"cancel","id":""})", ev, why));
    CHECK_FALSE(pfo3::json::decode_cancel_event("not json", ev, why));
    CHECK_FALSE(pfo3::json::decode_cancel_event(std::string(10000, ' '), ev, why));
}
