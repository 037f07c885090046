// Reading and rewriting dead-letter bodies: pure functions, no broker.
#include <catch2/catch.hpp>

#include <string>

#include "pfo3/queue/dead_letter.hpp"

using namespace pfo3::queue;

namespace {

const std::string worker_dead =
    R"({"id":"t-1","type":"resize","payload":{"w":1.5,"n":[1,2]},"submitted_at":"2024-05-01T10:00:00Z",)"
    R"("attempt":5,"max_attempts":5,"error":"exit status 3"})";

}  // namespace

TEST_CASE("a dead letter written by a worker is summarized field by field", "[dead_letter]") {
    auto d = summarize_dead_letter(worker_dead, "ignored", "ignored");
    CHECK(d.decodable);
    CHECK(d.id == "t-1");
    CHECK(d.type == "resize");
    CHECK(d.attempt == 5);
    CHECK(d.error == "exit status 3");
    CHECK(d.submitted_at == "2024-05-01T10:00:00Z");
}

TEST_CASE("a teaching-format dead letter uses accion as its type", "[dead_letter]") {
    auto d = summarize_dead_letter(R"({"id":"7","accion":"sumar","datos":[1,2]})");
    CHECK(d.decodable);
    CHECK(d.id == "7");
    CHECK(d.type == "sumar");
    CHECK(d.attempt == 0);
    CHECK(d.error.empty());
}

TEST_CASE("an undecodable dead letter is summarized from its properties and says why", "[dead_letter]") {
    SECTION("not JSON") {
        auto d = summarize_dead_letter("hello\nworld", "m-1", "echo");
        CHECK_FALSE(d.decodable);
        CHECK(d.id == "m-1");
        CHECK(d.type == "echo");
        CHECK(d.error.rfind("undecodable body: not JSON", 0) == 0);
    }
    SECTION("not an object") {
        auto d = summarize_dead_letter("[1,2]", "m-2");
        CHECK_FALSE(d.decodable);
        CHECK(d.error == "undecodable body: not a JSON object");
    }
    SECTION("invalid UTF-8") {
        auto d = summarize_dead_letter("{\"id\":\"a\xff\"}", "m-3");
        CHECK_FALSE(d.decodable);
        CHECK(d.id == "m-3");
    }
    SECTION("nested too deep") {
        std::string deep(100000, '[');
        auto d = summarize_dead_letter("{\"id\":\"x\",\"payload\":" + deep + "}", "m-4");
        CHECK_FALSE(d.decodable);
        CHECK(d.error.find("nested deeper than") != std::string::npos);
    }
    SECTION("brackets inside strings do not count as nesting") {
        auto d = summarize_dead_letter("{\"id\":\"x\",\"payload\":\"" + std::string(1000, '[') + "\"}");
        CHECK(d.decodable);
        CHECK(d.id == "x");
    }
}

TEST_CASE("a non-string error is shown as JSON text", "[dead_letter]") {
    auto d = summarize_dead_letter(R"({"id":"e","error":{"code":3}})");
    CHECK(d.error == R"({"code":3})");
}

TEST_CASE("the requeued body has attempt 1, one more requeue, no error, and every other field unchanged", "[dead_letter]") {
    std::string why;
    auto body = requeue_body(worker_dead, why);
    REQUIRE(body);
    CHECK(*body ==
          R"({"id":"t-1","type":"resize","payload":{"w":1.5,"n":[1,2]},"submitted_at":"2024-05-01T10:00:00Z",)"
          R"("attempt":1,"max_attempts":5,"requeues":1})");
}

TEST_CASE("each requeue counts one more, so its run's records replace the last run's", "[dead_letter]") {
    std::string why;
    auto body = requeue_body(R"({"id":"r","type":"echo","payload":1,"attempt":4,"requeues":2,"error":"x"})", why);
    REQUIRE(body);
    CHECK(*body == R"({"id":"r","type":"echo","payload":1,"attempt":1,"requeues":3})");
    CHECK_FALSE(requeue_body(R"({"id":"r","requeues":-1})", why));
    CHECK_FALSE(requeue_body(R"({"id":"r","requeues":"2"})", why));
}

TEST_CASE("a requeued body without an attempt gets attempt 1", "[dead_letter]") {
    std::string why;
    auto body = requeue_body(R"({"id":"7","accion":"sumar","datos":[1,2],"error":"x"})", why);
    REQUIRE(body);
    CHECK(*body == R"({"id":"7","accion":"sumar","datos":[1,2],"attempt":1,"requeues":1})");
}

TEST_CASE("numbers survive a requeue exactly", "[dead_letter]") {
    // The one change: the integer -0 is written 0, the same JSON number.
    std::string why;
    auto body = requeue_body(R"({"id":"n","payload":[0.1,1e300,-0,18446744073709551615,123456789.125],"attempt":3})",
                             why);
    REQUIRE(body);
    CHECK(*body == R"({"id":"n","payload":[0.1,1e300,0,18446744073709551615,123456789.125],"attempt":1,"requeues":1})");
}

TEST_CASE("a body that can never be a task is not requeued", "[dead_letter]") {
    std::string why;
    CHECK_FALSE(requeue_body("garbage", why));
    CHECK(why.rfind("undecodable body", 0) == 0);
    CHECK_FALSE(requeue_body(R"({"type":"echo","payload":1})", why));
    CHECK(why == "the body has no valid task \"id\"");
    CHECK_FALSE(requeue_body(R"({"id":"../etc/passwd","type":"echo"})", why));
    CHECK_FALSE(requeue_body(R"({"id":"","type":"echo"})", why));
}

TEST_CASE("every dead letter becomes exactly one line of JSON", "[dead_letter]") {
    CHECK(dead_letter_json_line(worker_dead) == worker_dead);
    CHECK(dead_letter_json_line("{\n  \"id\": \"a\",\n  \"n\": [1, 2]\n}") == R"({"id":"a","n":[1,2]})");
    CHECK(dead_letter_json_line("hello\n\"world\"\t\x01") == R"("hello\n\"world\"\t\u0001")");
    // Quoted the way every pfo3 output quotes text: bytes that are not UTF-8 become \ufffd.
    CHECK(dead_letter_json_line("caf\xc3\xa9 \xff") == "\"caf\xc3\xa9 \\ufffd\"");
    CHECK(dead_letter_json_line("") == "\"\"");
    CHECK(dead_letter_json_line("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");
}

// The codec parsed with RapidJSON's own flags, which took a NUL byte for the end of the text:
// the body went out verbatim, NUL and all, and `dead list --json` printed no valid JSON.
TEST_CASE("a JSON value followed by a NUL byte and more is not JSON", "[dead_letter]") {
    const std::string body("{\"id\":\"a\"}\0junk", 15);
    CHECK(dead_letter_json_line(body) == R"("{\"id\":\"a\"}\u0000junk")");
    auto d = summarize_dead_letter(body, "m-1");
    CHECK_FALSE(d.decodable);
    CHECK(d.id == "m-1");
    std::string why;
    CHECK_FALSE(requeue_body(body, why));
}

// The codec converted numbers with RapidJSON 1.1's full-precision flag, which reads 0e200 as
// 7.8e56: a requeue changed the task's payload.
TEST_CASE("zero with any exponent is requeued as zero", "[dead_letter]") {
    std::string why;
    auto body = requeue_body(R"({"id":"z","payload":[0e200,-0e-300],"attempt":2})", why);
    REQUIRE(body);
    CHECK(*body == R"({"id":"z","payload":[0.0,-0.0],"attempt":1,"requeues":1})");
}

// RapidJSON 1.1 decodes a lone surrogate escape into bytes that are not UTF-8: the requeued
// body could never be decoded by a worker, and the letter came straight back.
TEST_CASE("a body with an unpaired surrogate escape is undecodable and stays", "[dead_letter]") {
    const std::string body = R"({"id":"s","type":"echo","payload":"\udc00"})";
    std::string why;
    CHECK_FALSE(requeue_body(body, why));
    CHECK_THAT(why, Catch::Contains("surrogate"));
    CHECK_FALSE(summarize_dead_letter(body).decodable);
    CHECK(dead_letter_json_line(body) == R"("{\"id\":\"s\",\"type\":\"echo\",\"payload\":\"\\udc00\"}")");
}

TEST_CASE("duplicate error and attempt members are all dropped or reset", "[dead_letter]") {
    std::string why;
    auto body = requeue_body(R"({"error":"a","id":"d","attempt":4,"error":"b","attempt":5})", why);
    REQUIRE(body);
    CHECK(*body == R"({"id":"d","attempt":1,"attempt":1,"requeues":1})");
}

TEST_CASE("one_line replaces control characters", "[dead_letter]") {
    CHECK(one_line("a\tb\nc\rd\x7f") == "a b c d ");
    CHECK(one_line("plain") == "plain");
}
