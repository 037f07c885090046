// The environment layer: PFO3_* variables over the file's values (SPEC 2: flag > env > file).
#include <cstdlib>

#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "amqp_urls.hpp"
#include "rules.hpp"

namespace pfo3::config {

namespace {

/// A variable and the key it overrides; the key's rule checks the value.
struct binding {
    std::string_view variable;
    std::string_view section;
    std::string_view name;
};

constexpr binding bindings[] = {
    {"PFO3_AMQP_URL", "amqp", "url"},      {"PFO3_QUEUE", "amqp", "queue"},
    {"PFO3_STORE", "store", "uri"},        {"PFO3_SERVER", "send", "server"},
    {"PFO3_AMQP_PASSWORD_FILE", "amqp", "password_file"},
    {"PFO3_STORE_PASSWORD_FILE", "store", "password_file"},
    {"PFO3_LISTEN", "serve", "listen"},    {"PFO3_PREFETCH", "work", "prefetch"},
    {"PFO3_CONCURRENCY", "work", "concurrency"}, {"PFO3_TYPE", "send", "type"},
    {"PFO3_HTTP_LISTEN", "http", "listen"},
};

}  // namespace

env_lookup process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        // getenv needs a NUL-terminated name; the copy is short-lived and bounded by the name.
        const char* value = std::getenv(std::string(name).c_str());
        if (!value) return std::nullopt;
        return std::string(value);
    };
}

void apply_environment(settings& s, const env_lookup& env) {
    detail::apply_url_environment(s, env);
    for (const auto& b : bindings) {
        auto value = env(b.variable);
        // Empty counts as unset, as with shell `VAR= cmd` and compose files that pass blanks.
        if (!value || value->empty()) continue;
        const auto* key = detail::find_key(b.section, b.name);
        if (!key) throw std::logic_error("environment binding to an unknown key");
        if (auto p = detail::set_from_text(*key, s, *value))
            throw config_error(std::string(b.variable) + ": " + *p);
    }
}

}  // namespace pfo3::config
