// json::parse and json::value: the one strict parse other modules read JSON through, and the
// task-field table every decoder applies.
#include <catch2/catch.hpp>

#include <string>

#include "pfo3/json/task_fields.hpp"
#include "pfo3/json/value.hpp"

using namespace pfo3::json;

namespace {

document parsed(std::string_view text, std::size_t max_depth = default_max_depth) {
    std::string why;
    std::optional<document> d = parse(text, why, max_depth);
    INFO(text << " -> " << why);
    REQUIRE(d);
    return std::move(*d);
}

std::string refusal(std::string_view text, std::size_t max_depth = default_max_depth) {
    std::string why;
    CHECK_FALSE(parse(text, why, max_depth));
    return why;
}

}  // namespace

TEST_CASE("kind_name names every kind of JSON value for messages", "[value]") {
    const document d = parsed(R"([null, true, false, 1, -2.5, "s", [], {}])");
    const value v = d.root();
    REQUIRE(v.size() == 8);
    CHECK(v.kind_name() == "an array");
    CHECK(v[0].kind_name() == "null");
    CHECK(v[1].kind_name() == "a boolean");
    CHECK(v[2].kind_name() == "a boolean");
    CHECK(v[3].kind_name() == "a number");
    CHECK(v[4].kind_name() == "a number");
    CHECK(v[5].kind_name() == "a string");
    CHECK(v[6].kind_name() == "an array");
    CHECK(v[7].kind_name() == "an object");
}

TEST_CASE("accessors give the value of their kind and an empty answer for any other", "[value]") {
    const document d = parsed(R"({"b":true,"s":"h\u00e9\u0000","i":-7,"u":18446744073709551615,)"
                              R"("d":1.5,"w":1e3,"o":{"k":1},"k":2})");
    const value o = d.root();
    CHECK(o.find("b")->boolean());
    CHECK(o.find("s")->string() == std::string("h\xc3\xa9\0", 4));
    CHECK(o.find("i")->int64() == -7);
    CHECK_FALSE(o.find("i")->uint64());
    CHECK(o.find("u")->uint64() == 18446744073709551615u);
    CHECK_FALSE(o.find("u")->int64());
    CHECK(o.find("d")->number() == 1.5);
    CHECK_FALSE(o.find("d")->int64());
    CHECK_FALSE(o.find("w")->int64());  // whole, but written as a double
    CHECK(o.find("w")->number() == 1000.0);
    CHECK(o.find("s")->int64() == std::nullopt);
    CHECK(o.find("i")->string().empty());
    CHECK_FALSE(o.find("i")->boolean());
    CHECK(o.find("i")->size() == 0);
    CHECK_FALSE(o.find("missing"));
    CHECK_FALSE(o.find("i")->find("i"));
    CHECK(o.find("o")->find("k")->int64() == 1);
    REQUIRE(o.size() == 8);
    CHECK(o.member_at(0).name == "b");
    CHECK(o.member_at(7).name == "k");
    CHECK(o.member_at(7).value.int64() == 2);
}

TEST_CASE("the first of duplicate members counts, and keys are compared byte for byte", "[value]") {
    const document d = parsed(R"({"a":1,"a":2,"x\u0000y":3,"x":4})");
    CHECK(d.root().find("a")->int64() == 1);
    CHECK(d.root().find(std::string("x\0y", 3))->int64() == 3);
    CHECK(d.root().find("x")->int64() == 4);
}

TEST_CASE("compact writes the value without whitespace", "[value]") {
    const document d = parsed(" { \"a\" : [ 1 , 2.50, \"\\n\" ] ,\n \"b\" : null } ");
    CHECK(d.root().compact() == R"({"a":[1,2.5,"\n"],"b":null})");
    CHECK(d.root().find("a")->compact() == R"([1,2.5,"\n"])");
}

TEST_CASE("parse is strict: one value, valid UTF-8, bounded depth, exact numbers", "[value]") {
    CHECK(refusal("") == "empty input: expected a JSON value");
    CHECK(refusal("{} x") == "unexpected data after the JSON value at byte 3");
    CHECK(refusal(std::string("{}\0", 3)) == "unexpected data after the JSON value at byte 2");
    CHECK(refusal("\"\xff\"") == "invalid UTF-8 in a string at byte 1");
    CHECK_THAT(refusal(R"("\udc00")"), Catch::Contains("surrogate"));
    CHECK_THAT(refusal("1.8e308"), Catch::Contains("out of the range of a double"));
    CHECK_THAT(refusal("[1,"), Catch::StartsWith("invalid JSON at byte 3"));
    CHECK(refusal("[[[]]]", 2) == "JSON nested deeper than 2 levels");
    CHECK(parsed("[[]]", 2).root().size() == 1);
    CHECK(refusal(std::string(1000000, '[')) == "JSON nested deeper than 256 levels");
    CHECK(parsed("[0e200,-0e300,0.0e-999]").root().compact() == "[0.0,-0.0,0.0]");
}

TEST_CASE("a document outlives the text it was parsed from and can be moved", "[value]") {
    std::string text = R"({"s":"kept"})";
    document d = parsed(text);
    text.assign(text.size(), 'x');
    document moved = std::move(d);
    CHECK(moved.root().find("s")->string() == "kept");
}

TEST_CASE("number_text writes a double the way every JSON writer of pfo3 does", "[value]") {
    CHECK(number_text(3.0) == "3.0");
    CHECK(number_text(0.1) == "0.1");
    CHECK(number_text(-0.0) == "-0.0");
    CHECK(number_text(1e22) == "1e22");
    CHECK(number_text(9223372036854775807.0) == "9223372036854776000.0");
    CHECK(number_text(1.0 / 0.0) == "null");
}

TEST_CASE("the task-field table: integer ranges, aliases, ids and types", "[task_fields]") {
    namespace f = task_fields;
    const document d = parsed(R"({"accion":"sumar","n":5,"big":2147483648,"neg":-1,"dbl":5.0,"id":42})");
    const value o = d.root();
    std::string_view found;
    CHECK(find_field(o, f::type, &found)->string() == "sumar");
    CHECK(found == "accion");
    CHECK_FALSE(find_field(o, f::payload));
    CHECK(integer_in(*o.find("n"), f::max_attempts) == 5);
    CHECK(integer_in(*o.find("n"), 6, 10) == std::nullopt);
    CHECK_FALSE(integer_in(*o.find("big"), f::attempt));
    CHECK_FALSE(integer_in(*o.find("neg"), f::timeout_ms));
    CHECK_FALSE(integer_in(*o.find("dbl"), f::max_attempts));
    CHECK(request_min(f::max_attempts) == 1);
    CHECK(request_min(f::attempt) == 1);
    CHECK(integer_problem("attempt", f::attempt.min, f::attempt.max) == "\"attempt\" must be an integer >= 1");
    CHECK(integer_problem("timeout_ms", 1, max_timeout_ms) ==
          "\"timeout_ms\" must be an integer from 1 to 86400000");
    CHECK(body_task_id(*o.find("id")) == "42");
    CHECK(body_task_id(*o.find("accion")) == "sumar");
    CHECK_FALSE(body_task_id(*o.find("dbl")));
    CHECK_FALSE(body_task_id(*o.find("neg")));
    CHECK(is_valid_task_type("a.b_c:d-9"));
    CHECK_FALSE(is_valid_task_type(""));
    CHECK_FALSE(is_valid_task_type("a b"));
    CHECK_FALSE(is_valid_task_type(std::string(129, 'a')));
}
