#pragma once
// The user information of URLs (scheme://user:password@host/...), read the way users write
// them: a password may hold '/', '?', '#' and '@' without percent-encoding. Masking for logs,
// the AMQP URL parser and the password files all find the password here, so they agree on
// where it is.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pfo3 {

/// Offsets into a URL. The user is [user_begin, user_end); the password, if any, is
/// [password_begin, password_end); `at` is the '@' that ends the user information.
struct url_userinfo {
    std::size_t user_begin = 0;
    std::size_t user_end = 0;
    bool has_password = false;
    std::size_t password_begin = 0;
    std::size_t password_end = 0;
    std::size_t at = 0;
};

/// Where the user information of `url` is; nullopt if it has none. After "scheme://" the user
/// name runs to the first ':', '@', '/', '?' or '#'. An '@' there ends the user information
/// (no password). A ':' starts a password that runs to the LAST '@' of the URL, so a password
/// may hold any character; the price is that an '@' after the host (in a path or query) must be
/// written %40 when the URL has a password, and a URL without user information whose host:port
/// is followed by such an '@' is read as having one (masking then hides too much, never too
/// little). A bracketed IPv6 host right after "://" has no user information.
std::optional<url_userinfo> find_userinfo(std::string_view url) noexcept;

/// `s` with every byte but A-Z a-z 0-9 - . _ ~ written as %XX (RFC 3986 unreserved kept).
std::string percent_encode(std::string_view s);

}  // namespace pfo3
