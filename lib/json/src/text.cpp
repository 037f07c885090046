#include "pfo3/json/text.hpp"

#include <cstdint>
#include <cstring>

#include "json_detail.hpp"

namespace pfo3::json {

bool is_valid_utf8(std::string_view s) noexcept {
    // Nearly every byte pfo3 checks is ASCII (ids, types, timestamps, most payloads): those
    // are skipped 8 at a time, and only a sequence that starts past 0x7f is decoded.
    constexpr std::uint64_t high_bits = 0x8080808080808080ull;
    std::size_t i = 0;
    while (i < s.size()) {
        for (std::uint64_t w; i + 8 <= s.size(); i += 8) {
            std::memcpy(&w, s.data() + i, 8);
            if (w & high_bits) break;
        }
        while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
        if (i == s.size()) break;
        const std::size_t n = detail::utf8_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = detail::utf8_length(s, i);
        if (n == 0) {
            out += "\xef\xbf\xbd";
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

}  // namespace pfo3::json
