#include <catch2/catch.hpp>

#include <stdexcept>

#include "record_codec.hpp"

using pfo3::task_record;
using pfo3::task_status;
using pfo3::store::decode_record;
using pfo3::store::encode_record;

namespace {

task_record sample() {
    task_record r;
    r.id = "0190f3a2-7c1e-7abc-8def-0123456789ab";
    r.type = "sum";
    r.payload_json = R"({"a":[1,2,{"b":null}],"s":"ñandú ✓ 😀","t":true})";
    r.status = task_status::done;
    r.result_json = "3";
    r.attempts = 2;
    r.worker = "host-1:4242";
    r.submitted_at = "2026-11-28T02:18:54.123Z";
    r.started_at = "2026-11-28T02:18:54.200Z";
    r.finished_at = "2026-11-28T02:18:54.300Z";
    return r;
}

void require_same(const task_record& a, const task_record& b) {
    CHECK(a.id == b.id);
    CHECK(a.type == b.type);
    CHECK(a.payload_json == b.payload_json);
    CHECK(a.status == b.status);
    CHECK(a.result_json == b.result_json);
    CHECK(a.error == b.error);
    CHECK(a.attempts == b.attempts);
    CHECK(a.worker == b.worker);
    CHECK(a.submitted_at == b.submitted_at);
    CHECK(a.started_at == b.started_at);
    CHECK(a.finished_at == b.finished_at);
    CHECK(a.requeues == b.requeues);
}

}  // namespace

TEST_CASE("a record survives encode and decode unchanged, unicode and nesting included") {
    auto r = sample();
    task_record back;
    std::string why;
    REQUIRE(decode_record(encode_record(r), back, why));
    require_same(r, back);
}

TEST_CASE("the requeue count is written only when there is one, and read back") {
    auto r = sample();
    CHECK(encode_record(r).find("requeues") == std::string::npos);  // records as before the field
    r.requeues = 3;
    task_record back;
    std::string why;
    REQUIRE(decode_record(encode_record(r), back, why));
    CHECK(back.requeues == 3);
}

TEST_CASE("payload and result are embedded as JSON, not as strings") {
    auto text = encode_record(sample());
    CHECK(text.find(R"("payload":{"a":[1,2,{"b":null}])") != std::string::npos);
    CHECK(text.find(R"("result":3)") != std::string::npos);
    CHECK(text.find(R"("status":"done")") != std::string::npos);
}

TEST_CASE("an empty error is stored as null and read back as empty") {
    auto r = sample();
    auto text = encode_record(r);
    CHECK(text.find(R"("error":null)") != std::string::npos);
    task_record back;
    std::string why;
    REQUIRE(decode_record(text, back, why));
    CHECK(back.error.empty());
}

TEST_CASE("a dead record keeps its error text and status") {
    auto r = sample();
    r.status = task_status::dead;
    r.result_json = "null";
    r.error = "exit status 3: boom \"quoted\"\nsecond line";
    task_record back;
    std::string why;
    REQUIRE(decode_record(encode_record(r), back, why));
    require_same(r, back);
}

TEST_CASE("string and scalar payloads round trip") {
    for (std::string p : {R"("tarea")", "null", "-12.5", "[]", "{}", "true", R"("a\u0000b")"}) {
        auto r = sample();
        r.payload_json = p;
        task_record back;
        std::string why;
        REQUIRE(decode_record(encode_record(r), back, why));
        CHECK(back.payload_json == p);
    }
}

TEST_CASE("encoding refuses a payload or result that is not JSON") {
    auto r = sample();
    r.payload_json = "{oops";
    CHECK_THROWS_AS(encode_record(r), std::invalid_argument);
    r = sample();
    r.result_json = "";
    CHECK_THROWS_AS(encode_record(r), std::invalid_argument);
    r = sample();
    r.result_json = std::string("1\0x", 3);
    CHECK_THROWS_AS(encode_record(r), std::invalid_argument);
}

TEST_CASE("invalid UTF-8 is repaired on encode so the record stays readable") {
    auto r = sample();
    r.error = "stderr: \xff\xfe bad";
    r.payload_json = "[\"a\xc3\"]";
    task_record back;
    std::string why;
    REQUIRE(decode_record(encode_record(r), back, why));
    CHECK(back.error == "stderr: \xef\xbf\xbd\xef\xbf\xbd bad");
    CHECK(back.payload_json == "[\"a\xef\xbf\xbd\"]");
}

TEST_CASE("decoding rejects malformed records with a reason") {
    auto good = encode_record(sample());
    auto without = [&](const std::string& key, const std::string& value) {
        auto text = good;
        auto at = text.find("\"" + key + "\":");
        REQUIRE(at != std::string::npos);
        auto vstart = at + key.size() + 3;
        auto vend = text.find_first_of(",}", vstart);
        if (text[vstart] == '{') vend = text.find("},", vstart) + 1;
        return text.substr(0, vstart) + value + text.substr(vend);
    };
    const char* bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"id\":\"x\"",
        "{}",
    };
    for (const char* b : bad) {
        task_record out;
        std::string why;
        CHECK_FALSE(decode_record(b, out, why));
        CHECK_FALSE(why.empty());
    }
    struct {
        std::string key, value;
    } mutations[] = {
        {"status", R"("finished")"}, {"status", "1"},      {"attempts", R"("2")"},
        {"attempts", "-1"},          {"id", R"("../etc")"}, {"id", "7"},
        {"error", "5"},              {"worker", "[]"},
    };
    for (const auto& m : mutations) {
        task_record out;
        std::string why;
        INFO(m.key << " = " << m.value);
        CHECK_FALSE(decode_record(without(m.key, m.value), out, why));
        CHECK(why.find(m.key) != std::string::npos);
    }
    task_record out;
    std::string why;
    CHECK_FALSE(decode_record(good.substr(0, good.size() - 1), out, why));
    CHECK_FALSE(decode_record(good + "x", out, why));
    CHECK_FALSE(decode_record("{\"id\":\"\xff\"}", out, why));
}

TEST_CASE("decoding leaves the output untouched on failure") {
    task_record out = sample();
    std::string why;
    REQUIRE_FALSE(decode_record(R"({"id":"a","status":"nope"})", out, why));
    CHECK(out.type == "sum");
}

// The codec parsed with RapidJSON 1.1's full-precision flag, which reads 0e200 as 7.8e56: a
// result an external command printed as 0e200 was stored as written and shown as 7.8e56.
TEST_CASE("zero with any exponent is read back as zero", "[record_codec]") {
    auto r = sample();
    r.result_json = "[0e200,-0e-300]";
    r.payload_json = "{\"n\":0E+300}";
    task_record back;
    std::string why;
    REQUIRE(decode_record(encode_record(r), back, why));
    CHECK(back.result_json == "[0.0,-0.0]");
    CHECK(back.payload_json == R"({"n":0.0})");
}

// The codec parsed recursively without a bound: a damaged or hostile record file of deep
// brackets overflowed the stack of whoever read it (a status reader, a worker's store check).
TEST_CASE("a record nested beyond what the codec writes is refused, not a crash", "[record_codec]") {
    const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
    task_record out;
    std::string why;
    CHECK_FALSE(decode_record(R"({"id":"d","payload":)" + deep + "}", out, why));
    CHECK_THAT(why, Catch::Contains("nested deeper than"));

    // The deepest result the codec accepts on encode still reads back.
    auto r = sample();
    r.result_json = std::string(256, '[') + std::string(256, ']');
    task_record back;
    REQUIRE(decode_record(encode_record(r), back, why));
    CHECK(back.result_json == r.result_json);
}

TEST_CASE("a record whose JSON the worker checked encodes to the same bytes without a second parse") {
    auto r = sample();
    const std::string checked_by_codec = encode_record(r);
    r.json_checked = true;
    CHECK(encode_record(r) == checked_by_codec);
    r.result_json = R"({"deep":[[["ok"]]],"s":"ñ"})";
    r.json_checked = false;
    const std::string again = encode_record(r);
    r.json_checked = true;
    CHECK(encode_record(r) == again);
    // Unchecked text is still checked: the flag is what spares the parse.
    r.json_checked = false;
    r.result_json = "{not json";
    CHECK_THROWS_AS(encode_record(r), std::invalid_argument);
}
