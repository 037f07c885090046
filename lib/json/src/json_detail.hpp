#pragma once
// Private helpers shared by the json module's sources: the one RapidJSON parse of pfo3 (strict,
// bounded), a compact writer into std::string, and a string escaper that always yields valid
// JSON. Only lib/json/src includes RapidJSON; other modules read JSON through value.hpp.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pfo3/json/text.hpp"
#include "pfo3/json/value.hpp"

namespace pfo3::json::detail {

/// Between the public json::value and the parser's value it views.
struct value_access {
    static value wrap(const rapidjson::Value& v) noexcept { return value(&v); }
    static const rapidjson::Value& get(value v) noexcept {
        return *static_cast<const rapidjson::Value*>(v.v_);
    }
};

/// Strict UTF-8, no recursion in the parser, the caller checks what follows. Numbers come as
/// text and depth_limiter converts them: RapidJSON 1.1's own conversion turns "0e200" into
/// 7.8e56 (kParseFullPrecisionFlag, a zero significand) or rounds (without it).
inline constexpr unsigned parse_flags = rapidjson::kParseValidateEncodingFlag |
                                        rapidjson::kParseIterativeFlag |
                                        rapidjson::kParseNumbersAsStringsFlag |
                                        rapidjson::kParseStopWhenDoneFlag;

/// Why a parse failed, ready to be turned into a human message.
struct parse_failure {
    rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
    std::size_t offset = 0;
    bool too_deep = false;
    bool trailing = false;  ///< a complete value followed by something other than whitespace
    bool bad_escape = false;    ///< a \u escape for an unpaired surrogate (not UTF-8 text)
    bool out_of_range = false;  ///< a number too big or too small (not 0) for a double
};

/// "invalid JSON at byte 12: Missing a comma or '}' after an object member." and the like.
std::string describe(const parse_failure& f, std::size_t max_depth);

/// Forwards SAX events to `Handler`, failing once arrays/objects nest deeper than max_depth,
/// so that recursive consumers of the result (Value::Accept, other parsers) stay bounded.
/// It also refuses what RapidJSON 1.1 lets through but no later reader can take: a lone
/// surrogate escape ("\udc00"), which it decodes to bytes that are not UTF-8. Numbers arrive
/// as text (kParseNumbersAsStringsFlag) and are converted exactly here, with RapidJSON's own
/// choice of Int/Uint/Int64/Uint64/Double; one out of a double's range is refused rather than
/// turned into infinity (which the Writer silently drops) or zero.
template <class Handler>
class depth_limiter {
public:
    depth_limiter(Handler& h, std::size_t max_depth) noexcept : h_(h), max_(max_depth) {}
    bool too_deep() const noexcept { return too_deep_; }
    bool bad_escape() const noexcept { return bad_escape_; }
    bool out_of_range() const noexcept { return out_of_range_; }

    bool Null() { return h_.Null(); }
    bool Bool(bool b) { return h_.Bool(b); }
    bool Int(int i) { return h_.Int(i); }
    bool Uint(unsigned u) { return h_.Uint(u); }
    bool Int64(std::int64_t i) { return h_.Int64(i); }
    bool Uint64(std::uint64_t u) { return h_.Uint64(u); }
    bool Double(double d) { return h_.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
        const char* end = s + n;
        if (std::string_view(s, n).find_first_of(".eE") == std::string_view::npos) {
            if (*s == '-') {
                std::int64_t i = 0;
                if (auto r = std::from_chars(s, end, i); r.ec == std::errc{} && r.ptr == end)
                    return i >= INT32_MIN ? h_.Int(static_cast<int>(i)) : h_.Int64(i);
            } else {
                std::uint64_t u = 0;
                if (auto r = std::from_chars(s, end, u); r.ec == std::errc{} && r.ptr == end)
                    return u <= UINT32_MAX ? h_.Uint(static_cast<unsigned>(u)) : h_.Uint64(u);
            }
            // Past 64 bits: a double, as RapidJSON does.
        }
        double d = 0;
        auto r = std::from_chars(s, end, d);
        if (r.ec != std::errc{} || r.ptr != end || !std::isfinite(d)) {
            out_of_range_ = true;
            return false;
        }
        return h_.Double(d);
    }
    bool String(const char* s, rapidjson::SizeType n, bool copy) {
        return text_ok(s, n) && h_.String(s, n, copy);
    }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) {
        return text_ok(s, n) && h_.Key(s, n, copy);
    }
    bool StartObject() { return enter() && h_.StartObject(); }
    bool EndObject(rapidjson::SizeType n) { --depth_; return h_.EndObject(n); }
    bool StartArray() { return enter() && h_.StartArray(); }
    bool EndArray(rapidjson::SizeType n) { --depth_; return h_.EndArray(n); }

private:
    bool enter() noexcept {
        if (++depth_ > max_) too_deep_ = true;
        return !too_deep_;
    }
    // The raw bytes were validated by the reader, so only an escape can have broken the text.
    bool text_ok(const char* s, rapidjson::SizeType n) noexcept {
        if (!is_valid_utf8(std::string_view(s, n))) bad_escape_ = true;
        return !bad_escape_;
    }
    Handler& h_;
    std::size_t max_;
    std::size_t depth_ = 0;
    bool too_deep_ = false;
    bool bad_escape_ = false;
    bool out_of_range_ = false;
};

/// Runs the reader over `text` into `handler` with parse_flags and the depth bound, and requires
/// that only whitespace follows the value. True on success; else `why` says what was wrong.
template <class Handler>
bool parse_sax(std::string_view text, Handler& handler, std::size_t max_depth, parse_failure& why) {
    // The reader's working stack (each string's bytes, the nesting) starts in this frame: a
    // request or a message body parses without a malloc of its own; a larger one spills to
    // the heap, freed when the parse ends.
    char stack_buffer[2048];
    rapidjson::MemoryPoolAllocator<> stack_allocator(stack_buffer, sizeof stack_buffer);
    rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>> reader(
        &stack_allocator);
    rapidjson::MemoryStream ms(text.data(), text.size());
    depth_limiter<Handler> limited(handler, max_depth);
    rapidjson::ParseResult r = reader.Parse<parse_flags>(ms, limited);
    if (r.IsError()) {
        why.code = r.Code();
        why.offset = r.Offset();
        why.too_deep = limited.too_deep();
        why.bad_escape = limited.bad_escape();
        why.out_of_range = limited.out_of_range();
        return false;
    }
    // StopWhenDone lets us see what follows; the reader alone would take a NUL byte for the end.
    for (std::size_t i = ms.Tell(); i < text.size(); ++i) {
        char c = text[i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
            why.trailing = true;
            why.offset = i;
            return false;
        }
    }
    return true;
}

/// Parses `text` into `doc` (bounded, strict). True on success; else `why` is filled.
bool parse_document(rapidjson::Document& doc, std::string_view text, std::size_t max_depth,
                    parse_failure& why);

/// A RapidJSON output stream appending to a std::string (no intermediate buffer).
class string_sink {
public:
    using Ch = char;
    explicit string_sink(std::string& out) noexcept : out_(out) {}
    void Put(char c) { out_.push_back(c); }
    void Flush() noexcept {}

private:
    std::string& out_;
};

/// Appends `v` as compact JSON.
void append_compact(std::string& out, const rapidjson::Value& v);

/// Length of the well-formed UTF-8 sequence at s[i] (1 for ASCII), or 0 if the bytes there
/// are not one (an overlong form, a surrogate, a value past U+10FFFF, a cut sequence).
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept;

/// Appends `s` as a JSON string literal. Control characters are escaped and invalid UTF-8 is
/// replaced by U+FFFD, so the output is valid JSON on one line whatever `s` holds.
void append_quoted(std::string& out, std::string_view s);

/// Appends a JSON text produced elsewhere (a stored result, a payload) on one line: newlines
/// in valid JSON can only be whitespace, so they become spaces; empty text becomes null.
void append_raw_one_line(std::string& out, std::string_view json_text);

}  // namespace pfo3::json::detail
