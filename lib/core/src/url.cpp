#include "pfo3/core/url.hpp"

namespace pfo3 {

std::optional<url_userinfo> find_userinfo(std::string_view url) noexcept {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::nullopt;
    url_userinfo u;
    u.user_begin = scheme + 3;
    if (u.user_begin < url.size() && url[u.user_begin] == '[') return std::nullopt;
    u.user_end = url.find_first_of(":@/?#", u.user_begin);
    if (u.user_end == std::string_view::npos) return std::nullopt;
    if (url[u.user_end] == '@') {
        u.at = u.user_end;
        return u;
    }
    if (url[u.user_end] != ':') return std::nullopt;
    const auto at = url.rfind('@');
    if (at == std::string_view::npos || at < u.user_end) return std::nullopt;
    u.has_password = true;
    u.password_begin = u.user_end + 1;
    u.password_end = at;
    u.at = at;
    return u;
}

std::string percent_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xf]);
        }
    }
    return out;
}

}  // namespace pfo3
