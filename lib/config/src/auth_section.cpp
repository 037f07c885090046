#include "auth_section.hpp"

#include "pfo3/auth/cidr.hpp"
#include "pfo3/auth/scopes.hpp"
#include "pfo3/core/error.hpp"

namespace pfo3::config::detail {

namespace {

constexpr std::string_view modes[] = {"none", "token", "mtls", "any"};
constexpr std::string_view key_names[] = {"mode",           "tokens_file",      "allow_anonymous_network",
                                          "anonymous_from", "anonymous_scopes", "failure_delay_ms",
                                          "max_failures"};
constexpr integer_rule failure_delay_rule{nullptr, nullptr, 0, 60000};
constexpr integer_rule max_failures_rule{nullptr, nullptr, 1, 100};

problem check_mode(std::string_view m) {
    for (auto known : modes)
        if (m == known) return std::nullopt;
    return "must be \"none\", \"token\", \"mtls\" or \"any\", got " + quote(m);
}

problem check_networks(const std::vector<std::string>& from) {
    for (const auto& c : from) {
        std::string why;
        if (!auth::cidr::parse(c, why)) return why;
    }
    return std::nullopt;
}

problem check_scope_names(const std::vector<std::string>& names) {
    std::string why;
    if (!auth::parse_scopes(names, why)) return why;
    return std::nullopt;
}

class section_reader {
public:
    explicit section_reader(std::string_view source) : source_(source) {}

    auth_settings read(const toml::node& node) {
        const auto* table = node.as_table();
        if (!table) fail(node.source(), "auth", "expected a table");
        auth_settings a;
        for (auto&& [key, value] : *table) {
            const std::string k(key.str());
            const std::string dotted = "auth." + k;
            problem p;
            if (k == "mode") {
                a.mode = text(value, dotted);
                p = check_mode(a.mode);
            } else if (k == "tokens_file") {
                a.tokens_file = text(value, dotted);
                if (a.tokens_file.find('\0') != std::string::npos) p = "must not contain a NUL character";
            } else if (k == "allow_anonymous_network") {
                const auto* b = value.as_boolean();
                if (!b) fail(value.source(), dotted, "expected a boolean (true or false)");
                a.allow_anonymous_network = b->get();
            } else if (k == "anonymous_from") {
                a.anonymous_from = strings(value, dotted);
                p = check_networks(a.anonymous_from);
            } else if (k == "anonymous_scopes") {
                a.anonymous_scopes = strings(value, dotted);
                p = check_scope_names(a.anonymous_scopes);
            } else if (k == "failure_delay_ms") {
                a.failure_delay_ms = static_cast<int>(integer(value, dotted, failure_delay_rule));
            } else if (k == "max_failures") {
                a.max_failures = static_cast<int>(integer(value, dotted, max_failures_rule));
            } else {
                std::string message = "unknown key";
                if (auto guess = closest(k, key_names)) message += " (did you mean auth." + std::string(*guess) + "?)";
                fail(key.source(), dotted, message);
            }
            if (p) fail(value.source(), dotted, *p);
        }
        if (auto p = check_auth(a)) fail(node.source(), "auth", *p);
        return a;
    }

private:
    [[noreturn]] void fail(const toml::source_region& where, std::string_view key, std::string_view message) const {
        throw config_error(std::string(source_) + ":" + std::to_string(where.begin.line) + ": " + std::string(key) +
                           ": " + std::string(message));
    }

    std::string text(const toml::node& node, const std::string& dotted) const {
        const auto* v = node.as_string();
        if (!v) fail(node.source(), dotted, "expected a string");
        return v->get();
    }

    std::int64_t integer(const toml::node& node, const std::string& dotted, const integer_rule& rule) const {
        const auto* v = node.as_integer();
        if (!v) fail(node.source(), dotted, "expected an integer");
        if (auto p = check(rule, v->get())) fail(node.source(), dotted, *p);
        return v->get();
    }

    std::vector<std::string> strings(const toml::node& node, const std::string& dotted) const {
        const auto* array = node.as_array();
        if (!array) fail(node.source(), dotted, "expected an array of strings");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < array->size(); ++i) {
            const auto* s = array->get(i)->as_string();
            if (!s) fail(array->get(i)->source(), dotted, "element " + std::to_string(i + 1) + " is not a string");
            out.push_back(s->get());
        }
        return out;
    }

    std::string_view source_;
};

}  // namespace

auth_settings read_auth_section(const toml::node& node, std::string_view source) {
    return section_reader(source).read(node);
}

problem check_auth(const auth_settings& a) {
    if (auto p = check_mode(a.mode)) return "auth.mode " + *p;
    if (auto p = check(failure_delay_rule, a.failure_delay_ms)) return "auth.failure_delay_ms " + *p;
    if (auto p = check(max_failures_rule, a.max_failures)) return "auth.max_failures " + *p;
    if (auto p = check_networks(a.anonymous_from)) return "auth.anonymous_from: " + *p;
    if (auto p = check_scope_names(a.anonymous_scopes)) return "auth.anonymous_scopes: " + *p;
    if ((a.mode == "token" || a.mode == "any") && a.tokens_file.empty())
        return "auth.mode \"" + a.mode + "\" needs auth.tokens_file (make one with: pfo3 token new NAME --scopes ...)";
    return std::nullopt;
}

}  // namespace pfo3::config::detail
