// The request framer: boundaries at every split of the input, strings, limits, recovery.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "pfo3/json/framer.hpp"

using pfo3::json::frame;
using pfo3::json::frame_status;
using pfo3::json::framer;

namespace {

// What a caller sees: each complete value's text, or the name of a failure.
using events = std::vector<std::string>;

// Plays the session's part: appends what arrives, asks the framer, drops what it consumed.
struct driver {
    explicit driver(std::size_t max_bytes = 1 << 20, std::size_t max_depth = 64)
        : f(max_bytes, max_depth) {}

    void feed(std::string_view chunk) {
        buf.append(chunk);
        for (int guard = 0; !closed; ++guard) {
            REQUIRE(guard < 1'000'000);
            frame fr = f.next(buf);
            REQUIRE(fr.consumed <= buf.size());
            switch (fr.status) {
            case frame_status::complete:
                REQUIRE(fr.begin < fr.end);
                REQUIRE(fr.end <= fr.consumed);
                out.push_back(buf.substr(fr.begin, fr.end - fr.begin));
                break;
            case frame_status::bad:
                REQUIRE(fr.consumed > 0);
                out.push_back("<bad>");
                break;
            case frame_status::too_long:
                out.push_back("<too_long>");
                closed = true;
                break;
            case frame_status::need_more:
                buf.erase(0, fr.consumed);
                return;
            }
            buf.erase(0, fr.consumed);
        }
    }

    framer f;
    std::string buf;
    events out;
    bool closed = false;
};

events frame_whole(std::string_view input, std::size_t max_bytes = 1 << 20, std::size_t depth = 64) {
    driver d(max_bytes, depth);
    d.feed(input);
    return d.out;
}

// Feeds `input` split at every point, at every pair of points, and byte by byte, and checks that
// the framer always yields `expected`.
void check_all_splits(std::string_view input, const events& expected, std::size_t max_bytes = 1 << 20,
                      std::size_t depth = 64) {
    CHECK(frame_whole(input, max_bytes, depth) == expected);
    for (std::size_t i = 0; i <= input.size(); ++i) {
        driver d(max_bytes, depth);
        d.feed(input.substr(0, i));
        d.feed(input.substr(i));
        INFO("split at " << i);
        CHECK(d.out == expected);
    }
    if (input.size() <= 160) {
        for (std::size_t i = 0; i <= input.size(); ++i)
            for (std::size_t j = i; j <= input.size(); ++j) {
                driver d(max_bytes, depth);
                d.feed(input.substr(0, i));
                d.feed(input.substr(i, j - i));
                d.feed(input.substr(j));
                INFO("split at " << i << " and " << j);
                REQUIRE(d.out == expected);
            }
    }
    driver d(max_bytes, depth);
    for (char c : input) d.feed(std::string_view(&c, 1));
    INFO("byte by byte");
    CHECK(d.out == expected);
}

}  // namespace

TEST_CASE("framer splits newline-separated and adjacent values at every split point", "[framer]") {
    const std::string input =
        "{\"a\":1}{\"b\":[1,2,{\"c\":\"}\"}]}\n"
        "  [\"x\\\"]\",{\"y\":\"\\\\\"}]\r\n"
        "{\"id\":\"1\",\"accion\":\"sumar\",\"datos\":[1,2]}"
        "\t{}[]\n";
    const events expected = {
        "{\"a\":1}",
        "{\"b\":[1,2,{\"c\":\"}\"}]}",
        "[\"x\\\"]\",{\"y\":\"\\\\\"}]",
        "{\"id\":\"1\",\"accion\":\"sumar\",\"datos\":[1,2]}",
        "{}",
        "[]",
    };
    check_all_splits(input, expected);
}

TEST_CASE("framer ignores braces, brackets and escaped quotes inside strings", "[framer]") {
    check_all_splits(R"({"s":"{[\"\\\\\"]}","t":"\\"}{"u":"\u005c"})",
                     {R"({"s":"{[\"\\\\\"]}","t":"\\"})", R"({"u":"\u005c"})"});
}

TEST_CASE("framer frames top-level scalars so the decoder can reject them", "[framer]") {
    check_all_splits("\"str\\\"ing\" 123 true null -1.5e3\n{\"a\":1}\n",
                     {"\"str\\\"ing\"", "123", "true", "null", "-1.5e3", "{\"a\":1}"});
    // A scalar ends at a structural character, which then starts (or fails) the next frame.
    CHECK(frame_whole("42{\"a\":1}") == events{"42", "{\"a\":1}"});
    CHECK(frame_whole("\"a\"\"b\"") == events{"\"a\"", "\"b\""});
}

TEST_CASE("framer waits for a bare number that might continue", "[framer]") {
    framer f(1024);
    frame fr = f.next("123");
    CHECK(fr.status == frame_status::need_more);
    CHECK(fr.consumed == 0);
    fr = f.next("1234\n");
    CHECK(fr.status == frame_status::complete);
    CHECK(fr.begin == 0);
    CHECK(fr.end == 4);
}

TEST_CASE("framer consumes whitespace-only input and reports need_more", "[framer]") {
    framer f(1024);
    frame fr = f.next(" \r\n\t \n");
    CHECK(fr.status == frame_status::need_more);
    CHECK(fr.consumed == 6);
    fr = f.next("");
    CHECK(fr.status == frame_status::need_more);
    CHECK(fr.consumed == 0);
    check_all_splits("\n\n   \n", {});
}

TEST_CASE("framer offsets are relative to the buffer of the call", "[framer]") {
    framer f(1024);
    frame fr = f.next("  \n {\"a\":");
    CHECK(fr.status == frame_status::need_more);
    CHECK(fr.consumed == 0);  // an open value keeps everything in place
    fr = f.next("  \n {\"a\":1}  {\"b\"");
    REQUIRE(fr.status == frame_status::complete);
    CHECK(fr.begin == 4);
    CHECK(fr.end == 11);
    CHECK(fr.consumed == 11);
    fr = f.next("  {\"b\":2}");
    REQUIRE(fr.status == frame_status::complete);
    CHECK(fr.begin == 2);
    CHECK(fr.end == 9);
}

TEST_CASE("framer rejects garbage and resumes after the next newline", "[framer]") {
    check_all_splits("}}garbage\n{\"ok\":1}\n", {"<bad>", "{\"ok\":1}"});
    check_all_splits("\x01\x02\n[1]", {"<bad>", "[1]"});
    check_all_splits("xyz {\"a\":1} still garbage\n  {\"b\":2}", {"<bad>", "{\"b\":2}"});
    check_all_splits("{\"a\":1}]\n{\"b\":2}", {"{\"a\":1}", "<bad>", "{\"b\":2}"});
    // A line of prose is one bad value, not one per word, even though "this" starts like true.
    check_all_splits("this is not json\n{\"c\":3}\n", {"<bad>", "{\"c\":3}"});
    check_all_splits("nullx\n12a3\n[1]", {"<bad>", "<bad>", "[1]"});

    framer f(1024);
    frame fr = f.next("@@@");
    CHECK(fr.status == frame_status::bad);
    CHECK(fr.consumed == 3);
    // Still skipping: more garbage without a newline is dropped silently, not reported twice.
    fr = f.next("{\"looks\":\"valid\"}");
    CHECK(fr.status == frame_status::need_more);
    CHECK(fr.consumed == 17);
    fr = f.next("rest\n{}");
    REQUIRE(fr.status == frame_status::complete);
    CHECK(fr.begin == 5);
    CHECK(fr.end == 7);
}

TEST_CASE("framer rejects nesting deeper than max_depth", "[framer]") {
    check_all_splits("[[[1]]]\n", {"[[[1]]]"}, 1 << 20, 3);
    check_all_splits("[[[[1]]]]\n{\"a\":[]}", {"<bad>", "{\"a\":[]}"}, 1 << 20, 3);
    check_all_splits("{\"a\":{\"b\":{\"c\":{}}}}\n[]", {"<bad>", "[]"}, 1 << 20, 3);
    // Brackets inside strings do not count.
    check_all_splits("[\"[[[[[[\"]\n", {"[\"[[[[[[\"]"}, 1 << 20, 1);
}

TEST_CASE("framer rejects 100000 nested brackets at once", "[framer]") {
    const std::string deep(100000, '[');
    framer f(1 << 20, 64);
    frame fr = f.next(deep);
    CHECK(fr.status == frame_status::bad);
    CHECK(fr.consumed == deep.size());
    // The closing half is skipped, then framing resumes.
    fr = f.next(std::string(100000, ']') + "\n{}");
    CHECK(fr.status == frame_status::complete);
}

TEST_CASE("framer reports too_long for complete and incomplete values", "[framer]") {
    // Exactly max_bytes is allowed; one more is not.
    CHECK(frame_whole("{\"a\":\"12\"}", 10) == events{"{\"a\":\"12\"}"});
    CHECK(frame_whole("{\"a\":\"123\"}", 10) == events{"<too_long>"});
    CHECK(frame_whole("1234567890 ", 10) == events{"1234567890"});
    CHECK(frame_whole("12345678901 ", 10) == events{"<too_long>"});
    check_all_splits("{\"a\":1}\n{\"a\":\"0123456789\"}\n{}", {"{\"a\":1}", "<too_long>"}, 10);

    // An incomplete value that outgrows the limit is refused before it completes.
    framer f(10);
    CHECK(f.next("{\"a\":\"1234").status == frame_status::need_more);  // exactly 10
    frame fr = f.next("{\"a\":\"12345");
    CHECK(fr.status == frame_status::too_long);
    CHECK(fr.consumed == 11);

    // Leading whitespace does not count towards the value.
    framer g(4);
    fr = g.next("\n\n\n\n\n\n[12]");
    CHECK(fr.status == frame_status::complete);
    CHECK(fr.begin == 6);
}

TEST_CASE("framer work is linear when a value arrives one byte at a time", "[framer]") {
    // 400 kB fed byte by byte: rescanning from the start each time would take ~8e10 steps.
    std::string value = "{\"s\":\"" + std::string(400000, 'x') + "\"}";
    driver d(1 << 20);
    auto start = std::chrono::steady_clock::now();
    for (char c : value) d.feed(std::string_view(&c, 1));
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(d.out.size() == 1);
    CHECK(d.out[0].size() == value.size());
    CHECK(took < std::chrono::seconds(5));
}
