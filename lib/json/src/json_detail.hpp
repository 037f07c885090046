#pragma once
// Private helpers shared by the json module's sources: a bounded RapidJSON parse, a compact
// writer into std::string, and a string escaper that always yields valid JSON.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace pfo3::json::detail {

/// Strict UTF-8, no recursion in the parser, doubles kept exact; the caller checks what follows.
inline constexpr unsigned parse_flags = rapidjson::kParseValidateEncodingFlag |
                                        rapidjson::kParseIterativeFlag |
                                        rapidjson::kParseFullPrecisionFlag |
                                        rapidjson::kParseStopWhenDoneFlag;

/// Why a parse failed, ready to be turned into a human message.
struct parse_failure {
    rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
    std::size_t offset = 0;
    bool too_deep = false;
    bool trailing = false;  ///< a complete value followed by something other than whitespace
};

/// "invalid JSON at byte 12: Missing a comma or '}' after an object member." and the like.
std::string describe(const parse_failure& f, std::size_t max_depth);

/// Forwards SAX events to `Handler`, failing once arrays/objects nest deeper than max_depth,
/// so that recursive consumers of the result (Value::Accept, other parsers) stay bounded.
template <class Handler>
class depth_limiter {
public:
    depth_limiter(Handler& h, std::size_t max_depth) noexcept : h_(h), max_(max_depth) {}
    bool too_deep() const noexcept { return too_deep_; }

    bool Null() { return h_.Null(); }
    bool Bool(bool b) { return h_.Bool(b); }
    bool Int(int i) { return h_.Int(i); }
    bool Uint(unsigned u) { return h_.Uint(u); }
    bool Int64(std::int64_t i) { return h_.Int64(i); }
    bool Uint64(std::uint64_t u) { return h_.Uint64(u); }
    bool Double(double d) { return h_.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return h_.RawNumber(s, n, copy); }
    bool String(const char* s, rapidjson::SizeType n, bool copy) { return h_.String(s, n, copy); }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) { return h_.Key(s, n, copy); }
    bool StartObject() { return enter() && h_.StartObject(); }
    bool EndObject(rapidjson::SizeType n) { --depth_; return h_.EndObject(n); }
    bool StartArray() { return enter() && h_.StartArray(); }
    bool EndArray(rapidjson::SizeType n) { --depth_; return h_.EndArray(n); }

private:
    bool enter() noexcept {
        if (++depth_ > max_) too_deep_ = true;
        return !too_deep_;
    }
    Handler& h_;
    std::size_t max_;
    std::size_t depth_ = 0;
    bool too_deep_ = false;
};

/// Runs `reader` over `text` into `handler` with parse_flags and the depth bound, and requires
/// that only whitespace follows the value. True on success; else `why` says what was wrong.
template <class Handler>
bool parse_sax(rapidjson::Reader& reader, std::string_view text, Handler& handler,
               std::size_t max_depth, parse_failure& why) {
    rapidjson::MemoryStream ms(text.data(), text.size());
    depth_limiter<Handler> limited(handler, max_depth);
    rapidjson::ParseResult r = reader.Parse<parse_flags>(ms, limited);
    if (r.IsError()) {
        why.code = r.Code();
        why.offset = r.Offset();
        why.too_deep = limited.too_deep();
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
