#include "pfo3/auth/cidr.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace pfo3::auth {

namespace {

constexpr std::array<std::uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

std::optional<std::array<std::uint8_t, 16>> parse_address(std::string_view address) {
    if (address.size() > 45) return std::nullopt;  // INET6_ADDRSTRLEN - 1
    const std::string text(address);
    std::array<std::uint8_t, 16> out{};
    in_addr v4{};
    if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
        std::copy(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), out.begin());
        std::memcpy(out.data() + 12, &v4.s_addr, 4);
        return out;
    }
    in6_addr v6{};
    if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
        std::memcpy(out.data(), v6.s6_addr, 16);
        return out;
    }
    return std::nullopt;
}

std::optional<cidr> cidr::parse(std::string_view text, std::string& why) {
    const auto slash = text.find('/');
    const auto addr_text = text.substr(0, slash);
    auto addr = parse_address(addr_text);
    if (!addr) {
        why = "\"" + std::string(text.substr(0, 64)) + "\" is not an IP address or ADDRESS/BITS";
        return std::nullopt;
    }
    const bool v4 = addr_text.find(':') == std::string_view::npos;
    const unsigned max_bits = v4 ? 32 : 128;
    unsigned bits = max_bits;
    if (slash != std::string_view::npos) {
        const auto b = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
        if (b.empty() || ec != std::errc{} || end != b.data() + b.size() || bits > max_bits) {
            why = "\"" + std::string(text.substr(0, 64)) + "\": the prefix length must be 0 to " +
                  std::to_string(max_bits);
            return std::nullopt;
        }
    }
    cidr c;
    c.bits_ = v4 ? bits + 96 : bits;
    c.net_ = *addr;
    // Host bits are cleared so 10.1.2.3/8 means 10.0.0.0/8.
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned keep = c.bits_ > i * 8 ? std::min(8u, c.bits_ - i * 8) : 0;
        c.net_[i] &= static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
    }
    c.text_ = std::string(text);
    return c;
}

bool cidr::contains(std::string_view address) const {
    auto addr = parse_address(address);
    if (!addr) return false;
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned keep = bits_ > i * 8 ? std::min(8u, bits_ - i * 8) : 0;
        const auto mask = static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
        if (((*addr)[i] & mask) != net_[i]) return false;
    }
    return true;
}

bool is_loopback_host(std::string_view host) {
    if (host == "localhost") return true;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    std::string why;
    static const cidr v4 = *cidr::parse("127.0.0.0/8", why);
    static const cidr v6 = *cidr::parse("::1/128", why);
    return v4.contains(host) || v6.contains(host);
}

}  // namespace pfo3::auth
