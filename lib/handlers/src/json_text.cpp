#include "json_text.hpp"

#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace pfo3::handlers::detail {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if the bytes there are not one.
std::size_t utf8_len(std::string_view s, std::size_t i) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;  // no UTF-16 surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (i + n > s.size()) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (b(i + k) < 0x80 || b(i + k) > 0xbf) return 0;
    return n;
}

}  // namespace

bool is_json(std::string_view text) {
    // RapidJSON's memory stream reads NUL as the end of input, which would accept "1\0junk".
    if (text.find('\0') != std::string_view::npos) return false;
    rapidjson::Reader reader;
    rapidjson::BaseReaderHandler<> sink;
    rapidjson::MemoryStream ms(text.data(), text.size());
    return !reader.Parse<rapidjson::kParseValidateEncodingFlag>(ms, sink).IsError();
}

std::string valid_utf8(std::string_view s) {
    std::string clean;
    clean.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = utf8_len(s, i);
        if (n == 0) {
            clean += "\xef\xbf\xbd";
            ++i;
        } else {
            clean.append(s.substr(i, n));
            i += n;
        }
    }
    return clean;
}

std::string json_string(std::string_view s) {
    std::string clean = valid_utf8(s);
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
    return {buf.GetString(), buf.GetSize()};
}

}  // namespace pfo3::handlers::detail
