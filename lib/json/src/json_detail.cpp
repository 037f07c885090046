#include "json_detail.hpp"

namespace pfo3::json::detail {

std::string describe(const parse_failure& f, std::size_t max_depth) {
    const std::string at = " at byte " + std::to_string(f.offset);
    if (f.too_deep) return "JSON nested deeper than " + std::to_string(max_depth) + " levels";
    if (f.trailing) return "unexpected data after the JSON value" + at;
    if (f.bad_escape) return "invalid \\u escape (an unpaired surrogate) in a string" + at;
    if (f.out_of_range)
        return "number out of the range of a double (too big, or too small but not 0)" + at;
    switch (f.code) {
    case rapidjson::kParseErrorDocumentEmpty:
        return "empty input: expected a JSON value";
    case rapidjson::kParseErrorStringInvalidEncoding:
        return "invalid UTF-8 in a string" + at;
    default:
        return "invalid JSON" + at + ": " + rapidjson::GetParseError_En(f.code);
    }
}

namespace {

// Feeds the reader's events into a document, for GenericDocument::Populate.
struct document_generator {
    std::string_view text;
    std::size_t max_depth;
    parse_failure& why;

    bool operator()(rapidjson::Document& doc) {
        return parse_sax(text, doc, max_depth, why);
    }
};

}  // namespace

bool parse_document(rapidjson::Document& doc, std::string_view text, std::size_t max_depth,
                    parse_failure& why) {
    document_generator g{text, max_depth, why};
    why = parse_failure{};
    doc.Populate(g);
    return why.code == rapidjson::kParseErrorNone && !why.trailing && !why.too_deep;
}

void append_compact(std::string& out, const rapidjson::Value& v) {
    string_sink sink(out);
    rapidjson::Writer<string_sink> writer(sink);
    v.Accept(writer);
}

std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
    auto byte = [&](std::size_t k) -> unsigned {
        return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u;
    };
    auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
        unsigned b = byte(k);
        return b >= lo && b <= hi;
    };
    if (i >= s.size()) return 0;
    unsigned c = byte(0);
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
    if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
    if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(1) && cont(2) ? 3 : 0;
    if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;  // no surrogates
    if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}

void append_quoted(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.reserve(out.size() + s.size() + 2);
    out.push_back('"');
    std::size_t run = 0;  // start of the bytes not yet copied
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            if (std::size_t len = utf8_length(s, i)) {
                i += len;
                continue;
            }
        }
        out.append(s.data() + run, i - run);
        switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default:
            if (c >= 0x80) {
                out.append("\\ufffd");  // a byte that is not part of valid UTF-8
            } else {
                out.append("\\u00");
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 0x0f]);
            }
        }
        run = ++i;
    }
    out.append(s.data() + run, s.size() - run);
    out.push_back('"');
}

void append_raw_one_line(std::string& out, std::string_view json_text) {
    if (json_text.empty()) {
        out.append("null");
        return;
    }
    if (json_text.find_first_of("\r\n") == std::string_view::npos) {
        out.append(json_text);
        return;
    }
    for (char c : json_text) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
}

}  // namespace pfo3::json::detail
