// The pure parts of the dead-letter actions: which letters a selection takes, how a listing
// stays within its bounds. The broker side is covered by test/integration/test_dead.py.
#include <catch2/catch.hpp>

#include <string>

#include "pfo3/queue/dead_letters.hpp"

using namespace pfo3::queue;

namespace {

std::string letter(const std::string& id, std::size_t payload_bytes = 0) {
    return R"({"id":")" + id + R"(","type":"echo","payload":")" + std::string(payload_bytes, 'p') +
           R"(","attempt":3,"error":"boom"})";
}

}  // namespace

TEST_CASE("a selection takes every letter or only the named ones", "[dead_letters]") {
    CHECK(dead_selection{true, {}}.selects("anything"));
    const dead_selection some{false, {"a", "b"}};
    CHECK(some.selects("a"));
    CHECK(some.selects("b"));
    CHECK_FALSE(some.selects("c"));
    CHECK_FALSE(some.selects(""));
}

TEST_CASE("cutting text never splits a UTF-8 sequence", "[dead_letters]") {
    CHECK(cut_utf8("hello", 10) == "hello");
    CHECK(cut_utf8("hello", 3) == "hel");
    const std::string e = "a\xc3\xa9z";  // a, é (2 bytes), z
    CHECK(cut_utf8(e, 2) == "a");
    CHECK(cut_utf8(e, 3) == "a\xc3\xa9");
    CHECK(cut_utf8("\xe2\x82\xac", 2).empty());  // € (3 bytes) does not fit in 2
}

TEST_CASE("a listing stops at its count", "[dead_letters]") {
    listing_builder b({2, SIZE_MAX, SIZE_MAX});
    CHECK(b.add(letter("a"), "", ""));
    CHECK_FALSE(b.full());
    CHECK(b.add(letter("b"), "", ""));
    CHECK(b.full());
    CHECK_FALSE(b.add(letter("c"), "", ""));
    auto l = b.take(9);
    CHECK(l.total == 9);
    REQUIRE(l.letters.size() == 2);
    CHECK(l.letters[1].summary.id == "b");
    CHECK(l.letters[1].summary.attempt == 3);
    CHECK_FALSE(l.cut);
}

TEST_CASE("a listing cuts long bodies and stops before its byte budget", "[dead_letters]") {
    listing_builder b({0, 100, 450});
    const std::string big = letter("big", 1000);
    CHECK(b.add(big, "", ""));
    CHECK(b.add(letter("small"), "", ""));
    CHECK(b.add(big, "", ""));
    CHECK(b.add(big, "", ""));
    CHECK_FALSE(b.add(big, "", ""));  // 4 x ~110 bytes fit in 450, a fifth does not
    CHECK(b.full());
    auto l = b.take(5);
    CHECK(l.cut);
    REQUIRE(l.letters.size() == 4);
    CHECK(l.letters[0].body_cut);
    CHECK(l.letters[0].body.size() == 100);
    CHECK(l.letters[0].body_size == big.size());
    CHECK(l.letters[0].summary.id == "big");  // the summary is read from the whole body
    CHECK_FALSE(l.letters[1].body_cut);
    CHECK(l.letters[1].body == letter("small"));
}

TEST_CASE("a listing always holds its first letter, however large", "[dead_letters]") {
    listing_builder b({0, SIZE_MAX, 10});
    CHECK(b.add(letter("huge", 5000), "", ""));
    CHECK_FALSE(b.add(letter("next"), "", ""));
    CHECK(b.take(2).letters.size() == 1);
}
