// The client protocol: every decoding rule of a request, and the exact bytes of each response.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "pfo3/json/protocol.hpp"

using namespace pfo3::json;
using pfo3::request_error;

namespace {

request must_decode(std::string_view text) {
    decoded d = decode_request(text);
    INFO(text << " -> " << d.message);
    REQUIRE(d.req);
    return *d.req;
}

decoded must_reject(std::string_view text, request_error e) {
    decoded d = decode_request(text);
    INFO(text);
    REQUIRE_FALSE(d.req);
    CHECK(d.error == e);
    CHECK_FALSE(d.message.empty());
    return d;
}

}  // namespace

TEST_CASE("decode_request reads a full submit request", "[protocol]") {
    request r = must_decode(
        R"({"op":"submit","type":"resize","payload":{"w": 10, "h" : [1, 2.5, "x\n"]},"id":"job-1","max_attempts":3})");
    CHECK(r.kind == op::submit);
    CHECK(r.type == "resize");
    CHECK(r.payload_json == R"({"w":10,"h":[1,2.5,"x\n"]})");
    CHECK(r.id == "job-1");
    CHECK(r.max_attempts == 3);
}

TEST_CASE("decode_request defaults: op submit, payload null, no id, no max_attempts", "[protocol]") {
    request r = must_decode(R"(  {"type":"echo"}  )");
    CHECK(r.kind == op::submit);
    CHECK(r.type == "echo");
    CHECK(r.payload_json == "null");
    CHECK(r.id.empty());
    CHECK(r.max_attempts == 0);
}

TEST_CASE("decode_request accepts the teaching system's field names", "[protocol]") {
    request r = must_decode(R"({"id":"7f3a","accion":"sumar","datos":[1,2,3]})");
    CHECK(r.kind == op::submit);
    CHECK(r.type == "sumar");
    CHECK(r.payload_json == "[1,2,3]");
    CHECK(r.id == "7f3a");
}

TEST_CASE("decode_request prefers the canonical name when an alias is also present", "[protocol]") {
    request r = must_decode(R"({"accion":"a","type":"b","datos":1,"payload":2})");
    CHECK(r.type == "b");
    CHECK(r.payload_json == "2");
    // The canonical one wins even when it is the invalid one.
    decoded d = must_reject(R"({"type":5,"accion":"echo"})", request_error::bad_request);
    CHECK(d.message == "\"type\" must be a string, not a number");
}

TEST_CASE("decode_request keeps payloads of every JSON kind", "[protocol]") {
    CHECK(must_decode(R"({"type":"t","payload":"tarea"})").payload_json == "\"tarea\"");
    CHECK(must_decode(R"({"type":"t","payload":null})").payload_json == "null");
    CHECK(must_decode(R"({"type":"t","payload":false})").payload_json == "false");
    CHECK(must_decode(R"({"type":"t","payload":-12345678901234})").payload_json == "-12345678901234");
    CHECK(must_decode(R"({"type":"t","payload":0.1})").payload_json == "0.1");
    CHECK(must_decode(R"({"type":"t","payload":"\u00e9\ud83d\ude00 \"q\" \\ \/"})").payload_json ==
          "\"\xc3\xa9\xf0\x9f\x98\x80 \\\"q\\\" \\\\ /\"");
    CHECK(must_decode(R"({"type":"t","payload":"a\u0000b"})").payload_json == "\"a\\u0000b\"");
}

TEST_CASE("decode_request ping and status", "[protocol]") {
    CHECK(must_decode(R"({"op":"ping"})").kind == op::ping);
    request s = must_decode(R"({"op":"status","id":"abc.1"})");
    CHECK(s.kind == op::status);
    CHECK(s.id == "abc.1");

    decoded d = must_reject(R"({"op":"status"})", request_error::bad_request);
    CHECK(d.message == "missing \"id\" for op \"status\"");
    must_reject(R"({"op":"status","id":".."})", request_error::bad_request);
    must_reject(R"({"op":"status","id":42})", request_error::bad_request);
}

TEST_CASE("decode_request op errors", "[protocol]") {
    decoded d = must_reject(R"({"op":"frobnicate","id":"x1","type":"echo"})", request_error::unknown_op);
    CHECK(d.message == "unknown op \"frobnicate\" (expected submit, ping, status, cancel, auth, dead_list, dead_requeue or "
                       "dead_purge)");
    CHECK(d.id == "x1");  // a valid id is echoed for the reply
    d = must_reject(R"({"op":1})", request_error::bad_request);
    CHECK(d.message == "\"op\" must be a string, not a number");
    must_reject(R"({"op":null,"type":"echo"})", request_error::bad_request);
    must_reject(R"({"op":"SUBMIT","type":"echo"})", request_error::unknown_op);
    // A long op is quoted only in part.
    d = must_reject("{\"op\":\"" + std::string(5000, 'z') + "\"}", request_error::unknown_op);
    CHECK(d.message.size() < 200);
}

TEST_CASE("decode_request requires a valid type", "[protocol]") {
    decoded d = must_reject(R"({"payload":1})", request_error::bad_request);
    CHECK(d.message == "missing \"type\" (or \"accion\")");
    d = must_reject(R"({"accion":["x"]})", request_error::bad_request);
    CHECK(d.message == "\"accion\" must be a string, not an array");
    d = must_reject(R"({"type":""})", request_error::bad_request);
    CHECK(d.message == "invalid \"type\": must be 1-128 characters of [A-Za-z0-9._:-]");
    must_reject(R"({"type":"../../bin/sh"})", request_error::bad_request);
    must_reject(R"({"type":"a b"})", request_error::bad_request);
    must_reject(R"({"type":"caf\u00e9"})", request_error::bad_request);
    must_decode("{\"type\":\"" + std::string(128, 'a') + "\"}");
    must_reject("{\"type\":\"" + std::string(129, 'a') + "\"}", request_error::bad_request);
    CHECK(must_decode(R"({"type":"Ns.v2:do_it-now"})").type == "Ns.v2:do_it-now");
}

TEST_CASE("decode_request validates the client id and never echoes a bad one", "[protocol]") {
    for (const char* bad : {R"("")", R"(".")", R"("..")", R"("a/b")", R"("a b")", "12", "null",
                            "[\"a\"]"}) {
        decoded d = must_reject(std::string(R"({"type":"echo","id":)") + bad + "}",
                                request_error::bad_request);
        CHECK(d.id.empty());
        CHECK_THAT(d.message, Catch::Contains("\"id\""));
    }
    decoded d = must_reject("{\"type\":\"echo\",\"id\":\"" + std::string(129, 'a') + "\"}",
                            request_error::bad_request);
    CHECK(d.id.empty());
    CHECK(d.message.size() < 200);
    CHECK(must_decode("{\"type\":\"echo\",\"id\":\"" + std::string(128, 'a') + "\"}").id.size() == 128);
    // A later error still names a valid id.
    d = must_reject(R"({"id":"ok-1","type":"a b"})", request_error::bad_request);
    CHECK(d.id == "ok-1");
}

TEST_CASE("decode_request checks max_attempts", "[protocol]") {
    CHECK(must_decode(R"({"type":"e","max_attempts":1})").max_attempts == 1);
    CHECK(must_decode(R"({"type":"e","max_attempts":25})").max_attempts == 25);
    for (const char* bad : {"0", "-1", "2.0", "2.5", "\"3\"", "null", "4294967297"}) {
        decoded d = must_reject(std::string(R"({"type":"e","max_attempts":)") + bad + "}",
                                request_error::bad_request);
        CHECK(d.message == "\"max_attempts\" must be an integer from 1 to 25");
    }
}

TEST_CASE("decode_request holds max_attempts to the operator's limit and names it", "[protocol]") {
    // The default limit is [retry] max_attempts_limit's default.
    decoded d = must_reject(R"({"type":"e","id":"t-1","max_attempts":26})", request_error::bad_request);
    CHECK(d.message ==
          "\"max_attempts\" must be at most 25 (the server's [retry] max_attempts_limit), got 26");
    CHECK(d.id == "t-1");

    const request_limits three{3};
    CHECK(decode_request(R"({"type":"e","max_attempts":3})", three).req->max_attempts == 3);
    d = decode_request(R"({"type":"e","max_attempts":4})", three);
    REQUIRE_FALSE(d.req);
    CHECK(d.error == request_error::bad_request);
    CHECK(d.message ==
          "\"max_attempts\" must be at most 3 (the server's [retry] max_attempts_limit), got 4");
    // A request without max_attempts is not affected by the limit.
    CHECK(decode_request(R"({"type":"e"})", three).req->max_attempts == 0);

    // The protocol's own ceiling holds whatever limit is given.
    const request_limits huge{1'000'000};
    CHECK(decode_request(R"({"type":"e","max_attempts":1000})", huge).req->max_attempts == 1000);
    CHECK_FALSE(decode_request(R"({"type":"e","max_attempts":1001})", huge).req);
}

TEST_CASE("decode_request ignores unknown fields and uses the first of duplicate keys", "[protocol]") {
    request r = must_decode(R"({"type":"a","type":"b","future":{"x":[1]},"colour":9})");
    CHECK(r.type == "a");
}

TEST_CASE("decode_request rejects what is not JSON as bad_json", "[protocol]") {
    decoded d = must_reject("", request_error::bad_json);
    d = must_reject("{\"type\":\"echo\"", request_error::bad_json);
    CHECK_THAT(d.message, Catch::StartsWith("invalid JSON at byte"));
    must_reject("{\"type\":'echo'}", request_error::bad_json);
    must_reject("{\"type\":\"echo\",}", request_error::bad_json);
    must_reject("{\"a\":NaN}", request_error::bad_json);
    must_reject("{\"a\":1e400}", request_error::bad_json);
    must_reject("{\"a\":\"raw\ncontrol\"}", request_error::bad_json);
    must_reject("{\"type\":\"echo\"}{\"type\":\"echo\"}", request_error::bad_json);
    d = must_reject(std::string("{\"type\":\"echo\"}\0junk", 20), request_error::bad_json);
    CHECK_THAT(d.message, Catch::StartsWith("unexpected data after the JSON value"));
}

TEST_CASE("decode_request rejects invalid UTF-8 as bad_json", "[protocol]") {
    for (std::string bad : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"}) {
        decoded d = must_reject("{\"type\":\"echo\",\"payload\":\"a" + bad + "b\"}",
                                request_error::bad_json);
        CHECK_THAT(d.message, Catch::StartsWith("invalid UTF-8 in a string at byte"));
    }
    must_reject("{\"ty\xffpe\":\"echo\"}", request_error::bad_json);
}

TEST_CASE("decode_request rejects non-object values as bad_request", "[protocol]") {
    decoded d = must_reject("[1,2]", request_error::bad_request);
    CHECK(d.message == "a request must be a JSON object, not an array");
    must_reject("\"tarea\"", request_error::bad_request);
    must_reject("42", request_error::bad_request);
    must_reject("true", request_error::bad_request);
    d = must_reject("null", request_error::bad_request);
    CHECK(d.message == "a request must be a JSON object, not null");
}

TEST_CASE("decode_request bounds nesting without recursion", "[protocol]") {
    std::string ok = R"({"type":"e","payload":)" + std::string(max_request_depth - 1, '[') +
                     std::string(max_request_depth - 1, ']') + "}";
    must_decode(ok);
    std::string too_deep = R"({"type":"e","payload":)" + std::string(max_request_depth, '[') +
                           std::string(max_request_depth, ']') + "}";
    decoded d = must_reject(too_deep, request_error::bad_json);
    CHECK(d.message == "JSON nested deeper than 64 levels");

    std::string huge = std::string(1000000, '[') + std::string(1000000, ']');
    auto start = std::chrono::steady_clock::now();
    must_reject(huge, request_error::bad_json);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

TEST_CASE("decode_request handles huge keys and values", "[protocol]") {
    std::string key(1 << 20, 'k');
    request r = must_decode("{\"" + key + "\":1,\"type\":\"echo\",\"payload\":\"" +
                            std::string(1 << 20, 'v') + "\"}");
    CHECK(r.payload_json.size() == (1u << 20) + 2);
    must_reject("{\"" + key + "\":1}", request_error::bad_request);
}

TEST_CASE("encoders produce exact single lines", "[protocol]") {
    CHECK(encode_accepted("0190b7e2-1c2d-7abc-8def-0123456789ab") ==
          "{\"ok\":true,\"id\":\"0190b7e2-1c2d-7abc-8def-0123456789ab\",\"status\":\"queued\"}\n");
    CHECK(encode_pong() == "{\"ok\":true,\"op\":\"pong\"}\n");
    CHECK(encode_rejected(request_error::bad_request, "missing \"type\" (or \"accion\")") ==
          "{\"ok\":false,\"error\":\"bad_request\",\"message\":\"missing \\\"type\\\" (or \\\"accion\\\")\"}\n");
    CHECK(encode_rejected(request_error::unavailable, "broker nack", "t-1") ==
          "{\"ok\":false,\"id\":\"t-1\",\"error\":\"unavailable\",\"message\":\"broker nack\"}\n");
    CHECK(encode_rejected(request_error::line_too_long, "") ==
          "{\"ok\":false,\"error\":\"line_too_long\",\"message\":\"the request is larger than the "
          "server accepts\"}\n");
    // Control characters and invalid UTF-8 in a message still give one valid line.
    CHECK(encode_rejected(request_error::bad_json, "a\nb\t\x01\xff\xc3\xa9\\") ==
          "{\"ok\":false,\"error\":\"bad_json\",\"message\":\"a\\nb\\t\\u0001\\ufffd\xc3\xa9\\\\\"}\n");
}

TEST_CASE("encode_status embeds the stored result and error", "[protocol]") {
    CHECK(encode_status("a1", std::nullopt) ==
          "{\"ok\":true,\"id\":\"a1\",\"status\":\"pending\",\"result\":null,\"error\":null,"
          "\"attempts\":0}\n");
    pfo3::task_record rec;
    rec.id = "a1";
    rec.status = pfo3::task_status::done;
    rec.result_json = "{\"sum\":6}";
    rec.attempts = 1;
    CHECK(encode_status("a1", rec) ==
          "{\"ok\":true,\"id\":\"a1\",\"status\":\"done\",\"result\":{\"sum\":6},\"error\":null,"
          "\"attempts\":1}\n");
    rec.status = pfo3::task_status::dead;
    rec.result_json = "null";
    rec.error = "exit status 3: \"boom\"";
    rec.attempts = 5;
    CHECK(encode_status("a1", rec) ==
          "{\"ok\":true,\"id\":\"a1\",\"status\":\"dead\",\"result\":null,\"error\":\"exit status "
          "3: \\\"boom\\\"\",\"attempts\":5}\n");
    // A pretty-printed result stays on one line; damaged text is sent as a string.
    rec.result_json = "{\n  \"a\": [1,\r\n 2]\n}";
    CHECK(encode_status("a1", rec).find('\n') == encode_status("a1", rec).size() - 1);
    rec.result_json = "{oops";
    CHECK_THAT(encode_status("a1", rec), Catch::Contains("\"result\":\"{oops\""));
    rec.result_json = "";
    CHECK_THAT(encode_status("a1", rec), Catch::Contains("\"result\":null"));
}

TEST_CASE("decode_request reads run_at or delay_s, and priority, within the server's limits", "[protocol][schedule]") {
    using namespace std::chrono;
    request r = must_decode(R"({"type":"e","run_at":"2026-12-06T10:00:00.250+01:00"})");
    REQUIRE(r.run_at);
    CHECK(*r.run_at == sys_days(year(2026) / 12 / 6) + hours(9) + milliseconds(250));
    CHECK(r.delay_s == 0);
    r = must_decode(R"({"type":"e","delay_s":90})");
    CHECK_FALSE(r.run_at);
    CHECK(r.delay_s == 90);
    // A past run_at is fine (it runs now); serve checks a future one against max_delay_s.
    CHECK(must_decode(R"({"type":"e","run_at":"1999-01-01T00:00:00Z"})").run_at);

    decoded d = must_reject(R"({"type":"e","run_at":"2026-12-06T10:00:00Z","delay_s":5})", request_error::bad_request);
    CHECK_THAT(d.message, Catch::Contains("not both"));
    d = must_reject(R"({"type":"e","run_at":"tomorrow"})", request_error::bad_request);
    CHECK_THAT(d.message, Catch::Contains("RFC 3339"));
    must_reject(R"({"type":"e","run_at":17})", request_error::bad_request);
    must_reject(R"({"type":"e","delay_s":-1})", request_error::bad_request);
    must_reject(R"({"type":"e","delay_s":1.5})", request_error::bad_request);
    request_limits limits;
    limits.max_delay_s = 60;
    CHECK(decode_request(R"({"type":"e","delay_s":60})", limits).req);
    d = decode_request(R"({"type":"e","delay_s":61})", limits);
    REQUIRE_FALSE(d.req);
    CHECK_THAT(d.message, Catch::Contains("max_delay_s"));

    // Priorities: refused while off, capped by max_priority.
    d = must_reject(R"({"type":"e","priority":1})", request_error::bad_request);
    CHECK_THAT(d.message, Catch::Contains("max_priority = 0"));
    limits.max_priority = 5;
    CHECK(decode_request(R"({"type":"e","priority":5})", limits).req->priority == 5);
    CHECK(decode_request(R"({"type":"e","priority":0})", limits).req->priority == 0);
    CHECK_FALSE(decode_request(R"({"type":"e","priority":6})", limits).req);
    CHECK_FALSE(decode_request(R"({"type":"e","priority":"high"})", limits).req);
}

TEST_CASE("a scheduled submit is answered with its run_at", "[protocol][schedule]") {
    CHECK(encode_scheduled("t1", "2026-12-06T10:00:00.000Z") ==
          "{\"ok\":true,\"id\":\"t1\",\"status\":\"scheduled\",\"run_at\":\"2026-12-06T10:00:00.000Z\"}\n");
}

TEST_CASE("a cancel names its task and may say why", "[protocol][cancel]") {
    request r = must_decode(R"({"op":"cancel","id":"t1","reason":"not needed"})");
    CHECK(r.kind == op::cancel);
    CHECK(r.id == "t1");
    CHECK(r.reason == "not needed");
    CHECK(must_decode(R"({"op":"cancel","id":"t1"})").reason.empty());
    must_reject(R"({"op":"cancel"})", request_error::bad_request);
    must_reject(R"({"op":"cancel","id":"t1","reason":5})", request_error::bad_request);
    must_reject(R"({"op":"cancel","id":"t1","reason":")" + std::string(501, 'x') + "\"}", request_error::bad_request);
    CHECK(encode_cancel_requested("t1") == "{\"ok\":true,\"id\":\"t1\",\"status\":\"cancel_requested\"}\n");
    CHECK(encode_too_late("t1", pfo3::task_status::done) ==
          "{\"ok\":false,\"id\":\"t1\",\"error\":\"too_late\",\"status\":\"done\",\"message\":\"the task is already done; "
          "nothing was cancelled\"}\n");
}

TEST_CASE("dead-letter ops say which letters, within bounds", "[protocol][dead]") {
    request l = must_decode(R"({"op":"dead_list"})");
    CHECK(l.kind == op::dead_list);
    CHECK(l.limit == 100);
    CHECK(must_decode(R"({"op":"dead_list","limit":1000})").limit == 1000);
    must_reject(R"({"op":"dead_list","limit":0})", request_error::bad_request);
    must_reject(R"({"op":"dead_list","limit":1001})", request_error::bad_request);
    must_reject(R"({"op":"dead_list","limit":"5"})", request_error::bad_request);

    request r = must_decode(R"({"op":"dead_requeue","ids":["a1","b-2"]})");
    CHECK(r.kind == op::dead_requeue);
    CHECK(r.ids == std::vector<std::string>{"a1", "b-2"});
    CHECK_FALSE(r.all);
    CHECK(r.limit == max_dead_limit);
    request a = must_decode(R"({"op":"dead_requeue","all":true,"limit":7})");
    CHECK(a.all);
    CHECK(a.limit == 7);
    CHECK(must_decode(R"({"op":"dead_purge","all":true})").kind == op::dead_purge);
    CHECK(must_decode(R"({"op":"dead_purge","ids":["x"]})").ids == std::vector<std::string>{"x"});

    // Which letters is always said, never both ways; garbage is refused, naming the field.
    for (const char* bad : {R"({"op":"dead_requeue"})", R"({"op":"dead_purge"})",
                            R"({"op":"dead_purge","all":false})", R"({"op":"dead_requeue","all":"yes"})",
                            R"({"op":"dead_requeue","all":true,"ids":["a"]})", R"({"op":"dead_requeue","ids":[]})",
                            R"({"op":"dead_requeue","ids":"a1"})", R"({"op":"dead_requeue","ids":[1]})",
                            R"({"op":"dead_requeue","ids":["has space"]})", R"({"op":"dead_purge","all":true,"limit":3})",
                            R"({"op":"dead_requeue","all":true,"limit":0})"}) {
        INFO(bad);
        must_reject(bad, request_error::bad_request);
    }
    std::string many = R"({"op":"dead_purge","ids":[)";
    for (std::size_t i = 0; i <= max_dead_ids; ++i) many += (i ? ",\"i" : "\"i") + std::to_string(i) + "\"";
    decoded d = must_reject(many + "]}", request_error::bad_request);
    CHECK_THAT(d.message, Catch::Contains("1 to 1000 task ids"));
    CHECK(is_dead_letter_op(op::dead_list));
    CHECK_FALSE(is_dead_letter_op(op::cancel));
}
