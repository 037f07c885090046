#pragma once
// Address ranges for `auth.anonymous_from`: "10.0.0.0/8", "192.168.1.7", "::1/128". A value
// type; safe on any thread.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pfo3::auth {

/// An IPv4 or IPv6 network. IPv4 is held as IPv4-mapped IPv6, so an IPv4 client seen by a
/// server listening on [::] still matches an IPv4 range.
class cidr {
public:
    /// "ADDRESS/BITS" or a bare address (all bits); nullopt and `why` when malformed.
    static std::optional<cidr> parse(std::string_view text, std::string& why);
    /// True if `address` (a numeric IPv4 or IPv6 address, as a socket reports it) is inside.
    bool contains(std::string_view address) const;
    /// The network as text, as parsed.
    const std::string& text() const { return text_; }

private:
    std::array<std::uint8_t, 16> net_{};
    unsigned bits_ = 0;  // of the 128
    std::string text_;
};

/// A numeric address as 16 bytes (IPv4 mapped into IPv6), or nullopt.
std::optional<std::array<std::uint8_t, 16>> parse_address(std::string_view address);
/// True for loopback addresses (127.0.0.0/8, ::1, IPv4-mapped 127/8) and the name "localhost".
bool is_loopback_host(std::string_view host);

}  // namespace pfo3::auth
