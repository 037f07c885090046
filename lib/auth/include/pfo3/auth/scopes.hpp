#pragma once
// What a principal may do on the client port: a set of scopes (docs/security.md).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pfo3::auth {

/// One permission. `admin` covers dead letters (and later schedules); `metrics` the metrics page.
enum class scope : std::uint8_t { submit = 1, status = 2, admin = 4, metrics = 8 };

/// A set of scopes, as bits.
class scope_set {
public:
    constexpr scope_set() = default;
    /// Every scope there is.
    static constexpr scope_set all() { return scope_set(15); }
    constexpr bool has(scope s) const { return (bits_ & static_cast<std::uint8_t>(s)) != 0; }
    constexpr void add(scope s) { bits_ |= static_cast<std::uint8_t>(s); }
    constexpr bool empty() const { return bits_ == 0; }
    constexpr bool operator==(const scope_set&) const = default;
    /// The scope names in a fixed order: "submit,status".
    std::string to_string() const;
    /// The names one by one, in the same order.
    std::vector<std::string_view> names() const;

private:
    constexpr explicit scope_set(std::uint8_t bits) : bits_(bits) {}
    std::uint8_t bits_ = 0;
};

/// The wire name of a scope ("submit").
std::string_view name_of(scope s);
/// The scope called `name`, or nullopt.
std::optional<scope> scope_named(std::string_view name);
/// "submit,status" (no spaces, no empty names, no repeats needed) into a set; else nullopt and
/// `why` says which name is unknown.
std::optional<scope_set> parse_scopes(std::string_view list, std::string& why);
/// The same for a list of names (a TOML array).
std::optional<scope_set> parse_scopes(const std::vector<std::string>& names, std::string& why);

}  // namespace pfo3::auth
