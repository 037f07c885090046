#include "pfo3/queue/amqp_url.hpp"

#include <charconv>

#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/url.hpp"

// RabbitMQ's URI spec (https://www.rabbitmq.com/uri-spec.html) with two decisions of ours:
//  - "amqp://host" (no path) and "amqp://host/" (empty path) both mean vhost "/". The spec
//    maps the second to the empty vhost "", which no RabbitMQ install has; treating it as "/"
//    is what users mean.
//  - query parameters (?heartbeat=...) are rejected rather than silently ignored: pfo3 sets
//    those itself.
//  - the password runs to the last '@' (find_userinfo in url.hpp), so it may hold '/', '?',
//    '#' and '@' unencoded, as users paste it; a vhost after a password writes '@' as %40.

namespace pfo3::queue {

namespace {

[[noreturn]] void fail(std::string_view url, std::string_view what) {
    std::string msg = "bad AMQP URL '";
    msg += log::mask_url(url);
    msg += "': ";
    msg += what;
    throw config_error(msg);
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view url, std::string_view s, std::string_view part) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
        int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) fail(url, std::string("bad percent-encoding in the ") + std::string(part));
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) noexcept {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i]) return false;
    }
    return true;
}

}  // namespace

amqp_url amqp_url::parse(std::string_view url) {
    amqp_url out;
    std::string_view rest;
    if (iequals_prefix(url, "amqp://")) {
        rest = url.substr(7);
    } else if (iequals_prefix(url, "amqps://")) {
        rest = url.substr(8);
        out.tls = true;
        out.port = 5671;
    } else {
        fail(url, "the scheme must be amqp:// or amqps://");
    }
    // The user information first: its password may hold '/', '?', '#' and '@' (url.hpp).
    if (auto ui = find_userinfo(url)) {
        out.user = percent_decode(url, url.substr(ui->user_begin, ui->user_end - ui->user_begin), "user name");
        out.password = ui->has_password ? percent_decode(url, url.substr(ui->password_begin,
                                                                         ui->password_end - ui->password_begin),
                                                         "password")
                                        : std::string();
        if (out.user.empty()) fail(url, "empty user name");
        rest = url.substr(ui->at + 1);
    }
    if (rest.find_first_of("?#") != std::string_view::npos)
        fail(url, "query parameters and fragments are not supported");

    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

    std::string_view host;
    std::string_view port;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) fail(url, "unterminated '[' in an IPv6 address");
        host = authority.substr(1, close - 1);
        if (host.empty()) fail(url, "empty IPv6 address");
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') fail(url, "unexpected text after the IPv6 address");
            port = after.substr(1);
            has_port = true;
        }
    } else {
        auto colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            has_port = true;
        }
        if (host.find_first_of("[]@") != std::string_view::npos) fail(url, "bad host");
    }
    if (!host.empty()) out.host = percent_decode(url, host, "host");
    if (has_port) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
            value > 65535)
            fail(url, "the port must be a number from 1 to 65535");
        out.port = static_cast<std::uint16_t>(value);
    }

    if (path.find('/') != std::string_view::npos)
        fail(url, "the vhost must be one path segment; write '/' inside it as %2f");
    out.vhost = path.empty() ? std::string("/") : percent_decode(url, path, "vhost");
    return out;
}

std::string amqp_url::masked() const {
    std::string out = tls ? "amqps://" : "amqp://";
    out += percent_encode(user);
    out += ":***@";
    if (host.find(':') != std::string::npos) {
        out += '[';
        out += host;
        out += ']';
    } else {
        out += host;
    }
    out += ':';
    out += std::to_string(port);
    out += '/';
    out += percent_encode(vhost);
    return out;
}

}  // namespace pfo3::queue
