#include <catch2/catch.hpp>

#include <chrono>

#include "pfo3/handlers/registry.hpp"

using pfo3::handlers::outcome;
using pfo3::handlers::registry;

namespace {

outcome run(const std::string& type, const std::string& payload) {
    pfo3::task t;
    t.id = "t-1";
    t.type = type;
    t.payload_json = payload;
    return registry{}.run(t);
}

void require_done(const outcome& o, const std::string& result) {
    INFO(o.error);
    REQUIRE(o.status == outcome::kind::done);
    CHECK(o.result_json == result);
    CHECK(o.error.empty());
}

void require_permanent(const outcome& o, const std::string& text) {
    REQUIRE(o.status == outcome::kind::permanent);
    CHECK_THAT(o.error, Catch::Contains(text));
}

}  // namespace

TEST_CASE("registry knows the built-ins and their Spanish aliases") {
    registry r;
    for (const char* t : {"echo", "sum", "sumar", "multiply", "multiplicar", "sleep"}) CHECK(r.knows(t));
    CHECK_FALSE(r.knows("resize"));
    CHECK_FALSE(r.knows(""));
    CHECK_FALSE(r.knows("ECHO"));
}

TEST_CASE("only the built-ins that answer at once may run inline") {
    registry r;
    for (const char* t : {"echo", "sum", "sumar", "multiply", "multiplicar"}) CHECK(r.runs_inline(t));
    CHECK_FALSE(r.runs_inline("sleep"));  // takes its time and honours the task's limit
    CHECK_FALSE(r.runs_inline("resize"));
    CHECK_FALSE(r.runs_inline(""));
}

TEST_CASE("echo returns the payload exactly") {
    for (std::string p : {R"("tarea")", R"({"a":[1,{"b":"ñ"}]})", "null", "12.50"}) require_done(run("echo", p), p);
}

TEST_CASE("sum and sumar add integers exactly") {
    require_done(run("sum", "[1,2,3]"), "6");
    require_done(run("sumar", "[10,-4]"), "6");
    require_done(run("sum", "[]"), "0");
    require_done(run("sum", "[-9223372036854775807, -1]"), "-9223372036854775808");
}

TEST_CASE("sum with a fraction gives a double") {
    require_done(run("sum", "[1.5, 2]"), "3.5");
    require_done(run("sum", "[1, 2.0]"), "3.0");
}

TEST_CASE("integer overflow falls back to double") {
    require_done(run("sum", "[9223372036854775807, 1]"), "9223372036854776000.0");
    require_done(run("sum", "[-9223372036854775808, -1]"), "-9223372036854776000.0");
    require_done(run("multiply", "[4294967296, 4294967296]"), "18446744073709553000.0");
    require_done(run("sum", "[18446744073709551615]"), "18446744073709553000.0");
}

TEST_CASE("multiply and multiplicar") {
    require_done(run("multiply", "[2,3,4]"), "24");
    require_done(run("multiplicar", "[-2,3]"), "-6");
    require_done(run("multiply", "[]"), "1");
    require_done(run("multiply", "[0.5, 3]"), "1.5");
}

TEST_CASE("sum and multiply refuse anything but an array of numbers, permanently") {
    require_permanent(run("sum", "5"), "array");
    require_permanent(run("sum", R"({"a":1})"), "got an object");
    require_permanent(run("sumar", R"("1,2")"), "got a string");
    require_permanent(run("sum", R"([1,"2"])"), "element 1 is a string");
    require_permanent(run("multiply", "[1,null]"), "element 1 is null");
    require_permanent(run("multiply", "[[1]]"), "element 0 is an array");
    require_permanent(run("multiply", "[1e308, 10]"), "too large");
    require_permanent(run("sum", "[1,"), "not valid JSON");
}

// The built-ins parsed with RapidJSON 1.1's full-precision flag, which reads 0e200 as 7.8e56
// (and -0e-300 as 3.5e-220); they now read numbers as requests and message bodies do.
TEST_CASE("zero with any exponent is zero in sum and multiply") {
    require_done(run("sum", "[0e200, 1]"), "1.0");
    require_done(run("sumar", "[-0e-300, 2.5]"), "2.5");
    require_done(run("multiply", "[0E+300, 7]"), "0.0");
}

TEST_CASE("a payload pfo3 would not accept as JSON is refused by every built-in") {
    for (const char* type : {"sum", "multiply", "sleep"}) {
        INFO(type);
        require_permanent(run(type, R"(["\udc00"])"), "not valid JSON");
        require_permanent(run(type, "[1] x"), "not valid JSON");
        require_permanent(run(type, "[1.8e308]"), "not valid JSON");
        require_permanent(run(type, std::string(300, '[') + std::string(300, ']')), "not valid JSON");
    }
}

TEST_CASE("sleep waits the given milliseconds and returns null") {
    auto start = std::chrono::steady_clock::now();
    require_done(run("sleep", "30"), "null");
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(30));
    require_done(run("sleep", "0"), "null");
}

TEST_CASE("sleep refuses anything but 0..3600000 whole milliseconds") {
    for (const char* p : {"-1", "3600001", "1.5", R"("10")", "null", "[10]", "1e3"})
        require_permanent(run("sleep", p), "milliseconds");
}

TEST_CASE("an unknown type is a permanent failure naming it") {
    require_permanent(run("nope", "1"), "unknown task type 'nope'");
}
