#include "pfo3/auth/scopes.hpp"

#include <array>

namespace pfo3::auth {

namespace {

struct named {
    scope s;
    std::string_view name;
};
constexpr std::array<named, 4> table{{{scope::submit, "submit"},
                                      {scope::status, "status"},
                                      {scope::admin, "admin"},
                                      {scope::metrics, "metrics"}}};

bool add_named(scope_set& set, std::string_view name, std::string& why) {
    auto s = scope_named(name);
    if (!s) {
        why = "unknown scope \"" + std::string(name.substr(0, 32)) + "\" (expected submit, status, admin or metrics)";
        return false;
    }
    set.add(*s);
    return true;
}

}  // namespace

std::string_view name_of(scope s) {
    for (const auto& n : table)
        if (n.s == s) return n.name;
    return "?";
}

std::optional<scope> scope_named(std::string_view name) {
    for (const auto& n : table)
        if (n.name == name) return n.s;
    return std::nullopt;
}

std::vector<std::string_view> scope_set::names() const {
    std::vector<std::string_view> out;
    for (const auto& n : table)
        if (has(n.s)) out.push_back(n.name);
    return out;
}

std::string scope_set::to_string() const {
    std::string out;
    for (auto name : names()) {
        if (!out.empty()) out += ',';
        out += name;
    }
    return out;
}

std::optional<scope_set> parse_scopes(std::string_view list, std::string& why) {
    scope_set set;
    if (list.empty()) {
        why = "no scopes given (expected a comma-separated list of submit, status, admin, metrics)";
        return std::nullopt;
    }
    while (true) {
        const auto comma = list.find(',');
        if (!add_named(set, list.substr(0, comma), why)) return std::nullopt;
        if (comma == std::string_view::npos) return set;
        list.remove_prefix(comma + 1);
    }
}

std::optional<scope_set> parse_scopes(const std::vector<std::string>& names, std::string& why) {
    scope_set set;
    for (const auto& n : names)
        if (!add_named(set, n, why)) return std::nullopt;
    return set;
}

}  // namespace pfo3::auth
