// decode_response: how `pfo3 send` and `pfo3 status` read the server's lines.
#include <catch2/catch.hpp>

#include <string>

#include "pfo3/json/protocol.hpp"
#include "pfo3/json/response.hpp"

using namespace pfo3::json;

TEST_CASE("the responses serve writes are read back field by field", "[response]") {
    auto accepted = decode_response(encode_accepted("t-1"));
    REQUIRE(accepted);
    CHECK(accepted->ok);
    CHECK(accepted->id == "t-1");
    CHECK(accepted->status == "queued");

    auto rejected = decode_response(encode_rejected(pfo3::request_error::bad_request, "no \"type\"", "t-2"));
    REQUIRE(rejected);
    CHECK_FALSE(rejected->ok);
    CHECK(rejected->id == "t-2");
    CHECK(rejected->error == "bad_request");
    CHECK(rejected->message == "no \"type\"");

    pfo3::task_record r;
    r.status = pfo3::task_status::dead;
    r.result_json = "{\n \"a\": [1, 2.5]\n}";
    r.error = "exit status 3";
    auto status = decode_response(encode_status("t-3", r));
    REQUIRE(status);
    CHECK(status->ok);
    CHECK(status->status == "dead");
    CHECK(status->result_json == R"({"a":[1,2.5]})");
    CHECK(status->task_error == "exit status 3");
    CHECK(status->error.empty());

    auto pending = decode_response(encode_status("t-4", std::nullopt));
    REQUIRE(pending);
    CHECK(pending->result_json == "null");
}

TEST_CASE("anything but an object with a boolean ok is not a response", "[response]") {
    for (const char* line : {"", "x", "[true]", "{}", R"({"ok":1})", R"({"ok":true} {})",
                             "{\"ok\":true,\"id\":\"\xff\"}", R"({"ok":true,"id":"\udc00"})"})
        CHECK_FALSE(decode_response(line));
}

// The reader used RapidJSON's fast number conversion, which can be a unit in the last place
// off: `pfo3 status` showed 12548.69160635398 for a stored 12548.691606353981.
TEST_CASE("a result's numbers are shown exactly as stored", "[response]") {
    for (std::string n : {"12548.691606353981", "3583.3640569199494", "5.409760742964738e124", "0.1", "0.0"}) {
        auto r = decode_response(R"({"ok":true,"id":"n","status":"done","result":[)" + n + "]}\n");
        REQUIRE(r);
        CHECK(r->result_json == "[" + n + "]");
    }
}
