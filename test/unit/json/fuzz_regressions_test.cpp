// Inputs the libFuzzer targets (test/fuzz) found to break the json module, kept as unit tests
// so each stays fixed. Every case names the check that caught it.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "pfo3/json/framer.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/json/text.hpp"

using namespace pfo3::json;
using namespace std::string_literals;
using pfo3::request_error;

namespace {

// Frames a whole input the way a session does; complete values as text, failures by name.
std::vector<std::string> frame_all(std::string_view input) {
    framer f(1 << 20);
    std::vector<std::string> out;
    std::string buf(input);
    for (int guard = 0; guard < 1000; ++guard) {
        const frame fr = f.next(buf);
        REQUIRE(fr.consumed <= buf.size());
        if (fr.status == frame_status::need_more) break;
        if (fr.status == frame_status::complete)
            out.push_back(buf.substr(fr.begin, fr.end - fr.begin));
        if (fr.status == frame_status::bad) out.push_back("<bad>");
        if (fr.status == frame_status::too_long) {
            out.push_back("<too_long>");
            break;
        }
        buf.erase(0, fr.consumed);
    }
    return out;
}

std::string payload_of(std::string_view request) {
    decoded d = decode_request(request);
    INFO(request << " -> " << d.message);
    REQUIRE(d.req);
    return d.req->payload_json;
}

void rejected_as_bad_json(std::string_view request) {
    decoded d = decode_request(request);
    INFO(request);
    REQUIRE_FALSE(d.req);
    CHECK(d.error == request_error::bad_json);
    CHECK_FALSE(d.message.empty());
}

}  // namespace

// fuzz_framer, ASan global-buffer-overflow: after a whole literal ("true") a NUL byte matched
// the literal's terminating NUL, and the next byte was read past the end of "true".
TEST_CASE("a literal followed by NUL bytes is one bad value", "[fuzz]") {
    for (std::string lit : {"true"s, "false"s, "null"s}) {
        const std::string input = lit + std::string(6, '\0') + "\n{\"op\":\"ping\"}";
        CHECK(frame_all(input) == std::vector<std::string>{"<bad>", R"({"op":"ping"})"});
    }
    CHECK(frame_all("tru\0e\n1 "s) == std::vector<std::string>{"<bad>", "1"});
}

// fuzz_request and fuzz_message, "payload is not valid JSON": RapidJSON 1.1 decodes a lone
// low-surrogate escape into bytes that are not UTF-8, so an accepted payload could not be read
// back by the worker (or by the teaching worker's json.loads).
TEST_CASE("an unpaired surrogate escape is bad_json wherever it is", "[fuzz]") {
    rejected_as_bad_json(R"({"type":"echo","payload":"\udc00"})");
    rejected_as_bad_json(R"({"type":"echo","payload":"a\udfffb"})");
    rejected_as_bad_json(R"({"type":"echo","payload":"\ud800"})");
    rejected_as_bad_json(R"({"type":"echo","payload":"\ud800\u0041"})");
    rejected_as_bad_json(R"({"type":"echo","payload":{"\udc00":1}})");
    rejected_as_bad_json(R"({"type":"echo","unknown":"\udc00"})");
    CHECK_FALSE(is_valid_json(R"("\udc00")"));

    // A proper pair is still fine.
    CHECK(payload_of(R"({"type":"echo","payload":"\ud83d\ude00"})") == "\"\xf0\x9f\x98\x80\"");

    pfo3::task t;
    std::string why;
    CHECK_FALSE(decode_message(R"({"id":"a","type":"echo","payload":"\udc00"})", t, why));
    CHECK_THAT(why, Catch::Contains("surrogate"));
}

// fuzz_request, UBSan "passing zero to clz()" in rapidjson/internal/diyfp.h: with a zero
// significand and a large exponent RapidJSON 1.1's full-precision conversion returns garbage,
// so a client's 0e200 was queued as 7.8e56 and 0e-200 as a negative number.
TEST_CASE("zero with any exponent stays zero", "[fuzz]") {
    CHECK(payload_of(R"({"type":"sum","payload":[0e200,0e-200,0.000e-300,0E+300]})") ==
          "[0.0,0.0,0.0,0.0]");
    CHECK(payload_of(R"({"type":"sum","payload":-0e300})") == "-0.0");

    pfo3::task t;
    std::string why;
    REQUIRE(decode_message(R"({"id":"z","accion":"sumar","datos":[0e200,1]})", t, why));
    CHECK(t.payload_json == "[0.0,1]");
}

// fuzz_request, "payload is not valid JSON": a number that rounds to infinity was accepted and
// then written as nothing (RapidJSON's Writer refuses infinity silently), so the queued payload
// was empty text and became null.
TEST_CASE("a number outside a double's range is bad_json, not null or zero", "[fuzz]") {
    rejected_as_bad_json(R"({"type":"echo","payload":1.7976931397246314e308})");
    rejected_as_bad_json(R"({"type":"echo","payload":[1,-1.8e308]})");
    rejected_as_bad_json(R"({"type":"echo","payload":1e-400})");
    CHECK(payload_of(R"({"type":"echo","payload":1.7976931348623157e308})") ==
          "1.7976931348623157e308");
    CHECK(payload_of(R"({"type":"echo","payload":4.9e-324})") == "5e-324");

    pfo3::task t;
    std::string why;
    CHECK_FALSE(decode_message(R"({"id":"big","type":"echo","payload":1e999999})", t, why));
    CHECK_FALSE(decode_message(R"({"id":"big","type":"echo","payload":2e308})", t, why));
}

// Numbers are now converted by pfo3 rather than by RapidJSON: the integer kinds and the exact
// values must be what RapidJSON itself would have produced.
TEST_CASE("integers keep their exact value and kind", "[fuzz]") {
    CHECK(payload_of(R"({"type":"echo","payload":[0,-0,1,-1,2147483647,-2147483648,)"
                     R"(-2147483649,4294967295,4294967296]})") ==
          "[0,0,1,-1,2147483647,-2147483648,-2147483649,4294967295,4294967296]");
    CHECK(payload_of(R"({"type":"echo","payload":[18446744073709551615,-9223372036854775808]})") ==
          "[18446744073709551615,-9223372036854775808]");
    // Past 64 bits an integer becomes a double, as in RapidJSON (whose Writer prints 2^64 with
    // these digits; they read back as exactly 2^64).
    const std::string two_to_64 = payload_of(R"({"type":"echo","payload":18446744073709551616})");
    CHECK(two_to_64 == "18446744073709553000.0");
    CHECK(payload_of(R"({"type":"echo","payload":)" + two_to_64 + "}") == two_to_64);
    CHECK(payload_of(R"({"type":"echo","payload":[0.1,1.5e3,-2.5E-3,1e22]})") ==
          "[0.1,1500.0,-0.0025,1e22]");

    decoded d = decode_request(R"({"type":"echo","max_attempts":1000})", request_limits{1000});
    REQUIRE(d.req);
    CHECK(d.req->max_attempts == 1000);
    // A double is not an integer, even when whole.
    CHECK_FALSE(decode_request(R"({"type":"echo","max_attempts":1e3})", request_limits{1000}).req);
    CHECK_FALSE(decode_request(R"({"type":"echo","max_attempts":2147483648})", request_limits{1000}).req);
}
