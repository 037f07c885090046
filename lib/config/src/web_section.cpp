#include "web_section.hpp"

#include "pfo3/core/error.hpp"
#include "rules.hpp"

namespace pfo3::config::detail {

namespace {

constexpr std::string_view key_names[] = {"actions"};

[[noreturn]] void fail(std::string_view source, const toml::source_region& where, std::string_view key,
                       std::string_view message) {
    throw config_error(std::string(source) + ":" + std::to_string(where.begin.line) + ": " + std::string(key) + ": " +
                       std::string(message));
}

}  // namespace

web_settings read_web_section(const toml::node& node, std::string_view source) {
    const auto* table = node.as_table();
    if (!table) fail(source, node.source(), "web", "expected a table");
    web_settings w;
    for (auto&& [key, value] : *table) {
        const std::string k(key.str());
        const std::string dotted = "web." + k;
        if (k == "actions") {
            const auto* b = value.as_boolean();
            if (!b) fail(source, value.source(), dotted, "expected a boolean (true or false)");
            w.actions = b->get();
        } else {
            std::string message = "unknown key";
            if (auto guess = closest(k, key_names)) message += " (did you mean web." + std::string(*guess) + "?)";
            fail(source, key.source(), dotted, message);
        }
    }
    return w;
}

}  // namespace pfo3::config::detail
