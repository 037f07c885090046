// The RabbitMQ message body: round trip, the teaching distributor's format, and the helpers.
#include <catch2/catch.hpp>

#include <string>

#include "pfo3/json/message.hpp"
#include "pfo3/json/protocol.hpp"

using namespace pfo3::json;

TEST_CASE("encode_message writes the documented body", "[message]") {
    pfo3::task t;
    t.id = "0190b7e2-1c2d-7abc-8def-0123456789ab";
    t.type = "echo";
    t.payload_json = "{\"x\":[1,\"y\"]}";
    t.submitted_at = "2026-11-28T02:18:54.123Z";
    t.attempt = 1;
    CHECK(encode_message(t) ==
          "{\"id\":\"0190b7e2-1c2d-7abc-8def-0123456789ab\",\"type\":\"echo\",\"payload\":{\"x\":"
          "[1,\"y\"]},\"submitted_at\":\"2026-11-28T02:18:54.123Z\",\"attempt\":1}");
    t.max_attempts = 3;
    t.attempt = 2;
    CHECK_THAT(encode_message(t), Catch::EndsWith(",\"attempt\":2,\"max_attempts\":3}"));
}

TEST_CASE("message round trip keeps every field", "[message]") {
    pfo3::task t;
    t.id = "job:42";
    t.type = "sum";
    t.payload_json = "[1,2.5,\"\xc3\xa9\\n\",{\"k\":null}]";
    t.submitted_at = "2026-11-28T02:18:54.123Z";
    t.attempt = 4;
    t.max_attempts = 7;
    t.requeues = 2;
    pfo3::task back;
    std::string why;
    REQUIRE(decode_message(encode_message(t), back, why));
    CHECK(back.id == t.id);
    CHECK(back.type == t.type);
    CHECK(back.payload_json == t.payload_json);
    CHECK(back.submitted_at == t.submitted_at);
    CHECK(back.attempt == 4);
    CHECK(back.max_attempts == 7);
    CHECK(back.requeues == 2);
}

TEST_CASE("a submitted request becomes a message the worker decodes", "[message]") {
    decoded d = decode_request(R"({"accion":"sumar","datos":[1, 2, 3],"id":"abc"})");
    REQUIRE(d.req);
    pfo3::task t;
    t.id = d.req->id;
    t.type = d.req->type;
    t.payload_json = d.req->payload_json;
    pfo3::task back;
    std::string why;
    REQUIRE(decode_message(encode_message(t), back, why));
    CHECK(back.payload_json == "[1,2,3]");
    CHECK(back.type == "sumar");
}

TEST_CASE("decode_message accepts the teaching distributor's body", "[message]") {
    pfo3::task t;
    std::string why;
    REQUIRE(decode_message(R"({"id": "5d0f8a7e-8c1b-4d5e-9f00-aa11bb22cc33", "accion": "sumar", "datos": [1, 2]})",
                           t, why));
    CHECK(t.id == "5d0f8a7e-8c1b-4d5e-9f00-aa11bb22cc33");
    CHECK(t.type == "sumar");
    CHECK(t.payload_json == "[1,2]");
    CHECK(t.attempt == 1);
    CHECK(t.max_attempts == 0);
    CHECK(t.submitted_at.empty());
    // Without data the payload is null; a numeric id is taken as its decimal text.
    REQUIRE(decode_message(R"({"id":17,"accion":"ping"})", t, why));
    CHECK(t.id == "17");
    CHECK(t.payload_json == "null");
}

TEST_CASE("decode_message failures say why and keep a readable id", "[message]") {
    pfo3::task t;
    std::string why;
    CHECK_FALSE(decode_message("not json", t, why));
    CHECK_THAT(why, Catch::Contains("invalid JSON"));
    CHECK(t.id.empty());

    CHECK_FALSE(decode_message("[1]", t, why));
    CHECK(why == "message body is not a JSON object");

    CHECK_FALSE(decode_message(R"({"type":"echo"})", t, why));
    CHECK(why == "message body has no \"id\"");

    CHECK_FALSE(decode_message(R"({"id":"../etc","type":"echo"})", t, why));
    CHECK(t.id.empty());

    CHECK_FALSE(decode_message(R"({"id":"t1","payload":1})", t, why));
    CHECK(why == "message body has no \"type\" (or \"accion\")");
    CHECK(t.id == "t1");

    CHECK_FALSE(decode_message(R"({"id":"t1","type":""})", t, why));
    CHECK(t.id == "t1");
    CHECK_FALSE(decode_message(R"({"id":"t1","type":"e","attempt":0})", t, why));
    CHECK(why == "message \"attempt\" must be an integer >= 1");
    CHECK_FALSE(decode_message(R"({"id":"t1","type":"e","attempt":"2"})", t, why));
    CHECK_FALSE(decode_message(R"({"id":"t1","type":"e","submitted_at":5})", t, why));
    CHECK_FALSE(decode_message(R"({"id":"t1","type":"e","max_attempts":1001})", t, why));
    CHECK_FALSE(decode_message("{\"id\":\"t1\",\"type\":\"e\",\"payload\":\"\xff\"}", t, why));
    CHECK_THAT(why, Catch::Contains("UTF-8"));
    CHECK_FALSE(decode_message(std::string(100000, '[') + std::string(100000, ']'), t, why));
}

TEST_CASE("is_valid_json accepts exactly one JSON value", "[message]") {
    CHECK(is_valid_json("{}"));
    CHECK(is_valid_json(" [1, \"x\", null]\n"));
    CHECK(is_valid_json("\"text\""));
    CHECK(is_valid_json("-0.5e10"));
    CHECK(is_valid_json("true"));
    CHECK_FALSE(is_valid_json(""));
    CHECK_FALSE(is_valid_json("   "));
    CHECK_FALSE(is_valid_json("hello"));
    CHECK_FALSE(is_valid_json("1 2"));
    CHECK_FALSE(is_valid_json("{} x"));
    CHECK_FALSE(is_valid_json(std::string("1\0", 2)));
    CHECK_FALSE(is_valid_json("\"\xff\""));
    CHECK_FALSE(is_valid_json(std::string(100000, '[') + std::string(100000, ']')));
}

TEST_CASE("quote escapes what JSON requires and repairs invalid UTF-8", "[message]") {
    CHECK(quote("") == "\"\"");
    CHECK(quote("plain") == "\"plain\"");
    CHECK(quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(quote("\n\r\t\b\f\x1f") == "\"\\n\\r\\t\\b\\f\\u001f\"");
    CHECK(quote(std::string("\0", 1)) == "\"\\u0000\"");
    CHECK(quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    CHECK(quote("\xff\xc3") == "\"\\ufffd\\ufffd\"");
    CHECK(quote("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // a UTF-16 surrogate
    CHECK(is_valid_json(quote("\x80\x01 any \xfe bytes \"")));
}

TEST_CASE("run_at and priority travel in the body and are left out when unset", "[message][schedule]") {
    pfo3::task t;
    t.id = "a";
    t.type = "echo";
    CHECK(encode_message(t).find("run_at") == std::string::npos);
    CHECK(encode_message(t).find("priority") == std::string::npos);
    t.run_at = "2026-12-06T10:00:00.000Z";
    t.priority = 7;
    pfo3::task back;
    std::string why;
    REQUIRE(decode_message(encode_message(t), back, why));
    CHECK(back.run_at == t.run_at);
    CHECK(back.priority == 7);
    CHECK_FALSE(decode_message(R"({"id":"a","type":"e","run_at":5})", back, why));
    CHECK_FALSE(decode_message(R"({"id":"a","type":"e","priority":11})", back, why));
}

TEST_CASE("texts larger than the parser's in-frame stack still parse whole", "[message]") {
    // The reader's working stack starts in a 2 KiB buffer and spills to the heap past it: a
    // long string, many strings and deep nesting must come through unchanged.
    std::string many = "[";
    for (int i = 0; i < 2000; ++i) many += (i ? ",\"" : "\"") + std::string(static_cast<std::size_t>(i % 40), 'k') + "\"";
    many += "]";
    const std::string deep = std::string(63, '[') + "\"x\"" + std::string(63, ']');
    for (const std::string& payload : {"\"" + std::string(1 << 20, 'p') + "\"", many, deep}) {
        pfo3::task t;
        t.id = "big-1";
        t.type = "echo";
        t.payload_json = payload;
        pfo3::task back;
        std::string why;
        REQUIRE(decode_message(encode_message(t), back, why));
        CHECK(back.payload_json == payload);
        CHECK(is_valid_json(payload));
        auto d = decode_request(R"({"type":"echo","payload":)" + payload + "}");
        REQUIRE(d.req);
        CHECK(d.req->payload_json == payload);
    }
}
