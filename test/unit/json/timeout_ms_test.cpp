// The per-task time limit "timeout_ms": request field -> task -> message body.
#include <catch2/catch.hpp>

#include <string>

#include "pfo3/json/message.hpp"
#include "pfo3/json/protocol.hpp"

using namespace pfo3::json;

TEST_CASE("a request's timeout_ms is 1..86400000 whole milliseconds", "[protocol]") {
    auto ok = decode_request(R"({"type":"e","timeout_ms":1})");
    REQUIRE(ok.req);
    CHECK(ok.req->timeout_ms == 1);
    ok = decode_request(R"({"type":"e","timeout_ms":86400000})");
    REQUIRE(ok.req);
    CHECK(ok.req->timeout_ms == 86400000);
    ok = decode_request(R"({"type":"e"})");
    REQUIRE(ok.req);
    CHECK(ok.req->timeout_ms == 0);

    for (const char* bad : {"0", "-5", "86400001", "1.5", "\"100\"", "null", "1e3", "99999999999999"}) {
        auto d = decode_request(std::string(R"({"type":"e","timeout_ms":)") + bad + "}");
        INFO(bad);
        REQUIRE_FALSE(d.req);
        CHECK(d.error == pfo3::request_error::bad_request);
        CHECK(d.message == "\"timeout_ms\" must be an integer from 1 to 86400000");
    }
}

TEST_CASE("timeout_ms travels in the message body and back", "[message]") {
    pfo3::task t;
    t.id = "t1";
    t.type = "echo";
    t.timeout_ms = 2500;
    std::string body = encode_message(t);
    CHECK_THAT(body, Catch::EndsWith(",\"attempt\":1,\"timeout_ms\":2500}"));
    pfo3::task back;
    std::string why;
    REQUIRE(decode_message(body, back, why));
    CHECK(back.timeout_ms == 2500);

    t.timeout_ms = 0;
    CHECK(encode_message(t).find("timeout_ms") == std::string::npos);
}

TEST_CASE("a message with a bad timeout_ms is refused with a reason", "[message]") {
    pfo3::task t;
    std::string why;
    CHECK_FALSE(decode_message(R"({"id":"t1","type":"e","timeout_ms":-1})", t, why));
    CHECK_THAT(why, Catch::Contains("timeout_ms"));
    CHECK_FALSE(decode_message(R"({"id":"t1","type":"e","timeout_ms":"x"})", t, why));
    CHECK(decode_message(R"({"id":"t1","type":"e","timeout_ms":0})", t, why));
    CHECK(t.timeout_ms == 0);
}
