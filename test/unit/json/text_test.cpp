// The shared text helpers: UTF-8 checking and repair.
#include <catch2/catch.hpp>

#include <string>

#include "json_detail.hpp"
#include "pfo3/json/text.hpp"

using namespace pfo3::json;

TEST_CASE("is_valid_utf8 accepts well-formed text only", "[text]") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("plain ascii"));
    CHECK(is_valid_utf8(std::string("nul \0 inside", 12)));
    CHECK(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
    CHECK_FALSE(is_valid_utf8("\xff"));
    CHECK_FALSE(is_valid_utf8("\x80"));                // a lone continuation byte
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));            // overlong
    CHECK_FALSE(is_valid_utf8("\xe0\x80\xaf"));        // overlong
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));        // a UTF-16 surrogate
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));    // past U+10FFFF
    CHECK_FALSE(is_valid_utf8("ok \xe2\x82"));         // cut at the end
    CHECK_FALSE(is_valid_utf8("\xf0\x9f\x98 x"));      // cut in the middle
}

TEST_CASE("valid_utf8 keeps good sequences and replaces each bad byte by U+FFFD", "[text]") {
    const std::string r = "\xef\xbf\xbd";
    CHECK(valid_utf8("") == "");
    CHECK(valid_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xf0\x9f\x98\x80");
    CHECK(valid_utf8("ok\xff") == "ok" + r);
    CHECK(valid_utf8("\xff\xc3") == r + r);
    CHECK(valid_utf8("\xed\xa0\x80") == r + r + r);
    CHECK(valid_utf8("\xe2\x82" "a") == r + r + "a");
    CHECK(valid_utf8(std::string("a\0b", 3)) == std::string("a\0b", 3));
    CHECK(is_valid_utf8(valid_utf8("\x80\x01 any \xfe bytes \xf5\xc1")));
}

TEST_CASE("is_valid_utf8 gives the byte-by-byte verdict wherever a bad or multi-byte sequence sits", "[text]") {
    // The ASCII fast path skips 8 bytes at a time: put every kind of sequence at every offset
    // around those 8-byte steps, in ASCII of every length, and compare with decoding each byte.
    auto reference = [](std::string_view s) {
        for (std::size_t i = 0; i < s.size();) {
            const std::size_t n = pfo3::json::detail::utf8_length(s, i);
            if (n == 0) return false;
            i += n;
        }
        return true;
    };
    const std::string pieces[] = {"\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x98\x80", "\x80", "\xc3", "\xe2\x9c",
                                  "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\xff", std::string(1, '\0')};
    for (const auto& piece : pieces)
        for (std::size_t before = 0; before < 20; ++before)
            for (std::size_t after = 0; after < 12; ++after) {
                const std::string s = std::string(before, 'a') + piece + std::string(after, 'b');
                INFO("piece of " << piece.size() << " bytes after " << before << ", before " << after);
                CHECK(pfo3::json::is_valid_utf8(s) == reference(s));
            }
}
