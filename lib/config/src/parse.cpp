// parse_settings: TOML text -> settings, refusing unknown keys, wrong types and bad values
// with "SOURCE:LINE: KEY: message".
#include <map>
#include <toml++/toml.h>

#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "amqp_urls.hpp"
#include "auth_section.hpp"
#include "web_section.hpp"
#include "rules.hpp"

namespace pfo3::config {

namespace {

std::string_view a_type(toml::node_type t) {
    switch (t) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a floating-point number";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        case toml::node_type::none: break;
    }
    return "nothing";
}

std::string expected(std::string_view what, const toml::node& got) {
    return "expected " + std::string(what) + ", got " + std::string(a_type(got.type()));
}

/// Walks one parsed document; every failure names the source, the line and the dotted key.
class document_reader {
public:
    explicit document_reader(std::string_view source) : source_(source) {}

    settings read(const toml::table& root) {
        settings s;
        for (auto&& [key, node] : root) {
            std::string_view section = key.str();
            if (section == "handlers")
                read_handlers(node, s);
            else if (section == "auth")
                s.auth = detail::read_auth_section(node, source_);
            else if (section == "web")
                s.web = detail::read_web_section(node, source_);
            else if (detail::is_section(section))
                read_section(section, node, s);
            else
                fail(key.source(), section, unknown_top_level(section, node));
        }
        check_one_url_key();
        check_backoff(s);
        check_attempts(s);
        check_s3_keys(s);
        return s;
    }

private:
    [[noreturn]] void fail(const toml::source_region& where, std::string_view key,
                           std::string_view message) const {
        std::string text(source_);
        text += ':';
        text += std::to_string(where.begin.line);
        text += ": ";
        text += key;
        text += ": ";
        text += message;
        throw config_error(text);
    }

    static std::string unknown_top_level(std::string_view name, const toml::node& node) {
        std::string message = node.is_table() ? "unknown table" : "unknown key";
        // `prefetch = 4` at the top is most likely meant for its section.
        for (const auto& k : detail::keys())
            if (k.name == name) return message + " (did you mean " + k.dotted() + "?)";
        std::vector<std::string_view> sections{"handlers"};
        for (const auto& k : detail::keys())
            if (sections.back() != k.section) sections.push_back(k.section);
        if (auto guess = detail::closest(name, sections))
            message += " (did you mean " + std::string(*guess) + "?)";
        return message;
    }

    void read_section(std::string_view section, const toml::node& node, settings& s) {
        const auto* table = node.as_table();
        if (!table) fail(node.source(), section, expected("a table", node));
        for (auto&& [key, value] : *table) {
            if (section == "amqp" && key.str() == "urls") {
                read_amqp_urls(value, s);
                continue;
            }
            if (section == "serve" && key.str() == "tls") {
                s.serve.tls = detail::read_serve_tls_section(value, source_);
                continue;
            }
            if (section == "amqp" && key.str() == "tls") {
                s.amqp.tls = detail::read_amqp_tls_section(value, source_);
                continue;
            }
            if (section == "http" && key.str() == "metrics") {  // a boolean: the key table holds none
                read_http_metrics(value, s);
                continue;
            }
            const auto* spec = detail::find_key(section, key.str());
            if (!spec) {
                std::vector<std::string_view> names;
                for (const auto& k : detail::keys())
                    if (k.section == section) names.push_back(k.name);
                if (section == "http") names.push_back("metrics");
                std::string message = "unknown key";
                if (auto guess = detail::closest(key.str(), names))
                    message += " (did you mean " + std::string(section) + "." +
                               std::string(*guess) + "?)";
                fail(key.source(), std::string(section) + "." + std::string(key.str()), message);
            }
            read_value(*spec, value, s);
        }
    }

    // amqp.urls: a list, so not in the key table; `url` and `urls` together are ambiguous.
    void read_amqp_urls(const toml::node& node, settings& s) {
        where_["amqp.urls"] = node.source();
        s.amqp.urls = read_strings("amqp.urls", node);
        if (auto p = detail::check_amqp_urls(s.amqp.urls)) fail(node.source(), "amqp.urls", *p);
    }

    void read_http_metrics(const toml::node& node, settings& s) const {
        const auto* b = node.as_boolean();
        if (!b) fail(node.source(), "http.metrics", expected("a boolean (true or false)", node));
        s.http.metrics = b->get();
    }

    void check_one_url_key() const {
        if (where_.count("amqp.url") && where_.count("amqp.urls"))
            fail(where_.at("amqp.urls"), "amqp.urls",
                 "amqp.url is set too: use one (url = \"...\" is the same as urls = [\"...\"])");
    }

    void read_value(const detail::key_spec& spec, const toml::node& node, settings& s) {
        auto dotted = spec.dotted();
        where_[dotted] = node.source();
        detail::problem p;
        if (const auto* r = std::get_if<detail::integer_rule>(&spec.rule)) {
            const auto* v = node.as_integer();
            if (!v) fail(node.source(), dotted, expected("an integer", node));
            p = detail::check(*r, v->get());
            if (!p) r->set(s, v->get());
        } else if (const auto* r = std::get_if<detail::number_rule>(&spec.rule)) {
            auto v = number(node, dotted);
            p = detail::check(*r, v);
            if (!p) r->set(s, v);
        } else {
            const auto& t = std::get<detail::text_rule>(spec.rule);
            const auto* v = node.as_string();
            if (!v) fail(node.source(), dotted, expected("a string", node));
            p = t.check(v->get());
            if (!p) t.set(s, v->get());
        }
        if (p) fail(node.source(), dotted, *p);
    }

    // A number where 1 stands for 1.0.
    double number(const toml::node& node, std::string_view dotted) const {
        if (const auto* f = node.as_floating_point()) return f->get();
        if (const auto* i = node.as_integer()) return static_cast<double>(i->get());
        fail(node.source(), dotted, expected("a number", node));
    }

    void check_backoff(const settings& s) const {
        // Blame the key the file set: max if present, else base (max kept its default).
        if (auto max_at = where_.find("retry.backoff_max_s"); max_at != where_.end()) {
            if (auto p = detail::check_backoff_max(s.retry))
                fail(max_at->second, "retry.backoff_max_s", *p);
        } else if (auto base_at = where_.find("retry.backoff_base_s"); base_at != where_.end()) {
            if (auto p = detail::check_backoff_base(s.retry))
                fail(base_at->second, "retry.backoff_base_s", *p);
        }
    }

    void check_attempts(const settings& s) const {
        // Blame the key the file set: max_attempts if present, else the limit.
        if (auto at = where_.find("retry.max_attempts"); at != where_.end()) {
            if (auto p = detail::check_attempts_within_limit(s.retry)) fail(at->second, "retry.max_attempts", *p);
        } else if (auto limit_at = where_.find("retry.max_attempts_limit"); limit_at != where_.end()) {
            if (auto p = detail::check_attempts_limit_covers(s.retry))
                fail(limit_at->second, "retry.max_attempts_limit", *p);
        }
    }

    void check_s3_keys(const settings& s) const {
        auto p = detail::check_s3_pair(s.store);
        if (!p) return;
        // Blame the first of the keys the file set (one is: the defaults are all empty).
        const toml::source_region* first = nullptr;
        for (const char* key : {"store.s3_access_key_id", "store.s3_secret_access_key", "store.s3_session_token"})
            if (auto at = where_.find(key); at != where_.end() && (!first || at->second.begin < first->begin))
                first = &at->second;
        if (first) fail(*first, "store", *p);
    }

    void read_handlers(const toml::node& node, settings& s) const {
        const auto* table = node.as_table();
        if (!table) fail(node.source(), "handlers", expected("a table", node));
        for (auto&& [name, value] : *table) {
            std::string dotted = "handlers." + std::string(name.str());
            if (auto p = detail::check_handler_name(name.str())) fail(name.source(), dotted, *p);
            s.handlers[std::string(name.str())] = read_handler(dotted, value);
        }
    }

    handler_settings read_handler(const std::string& dotted, const toml::node& node) const {
        const auto* table = node.as_table();
        if (!table) fail(node.source(), dotted, expected("a table", node));
        handler_settings h;
        bool has_command = false;
        for (auto&& [key, value] : *table) {
            std::string key_name = dotted + "." + std::string(key.str());
            if (key.str() == "command") {
                h.command = read_strings(key_name, value);
                if (auto p = detail::check_handler_command(h.command))
                    fail(value.source(), key_name, *p);
                has_command = true;
            } else if (key.str() == "env") {
                h.env = read_strings(key_name, value);
                if (auto p = detail::check_handler_env(h.env)) fail(value.source(), key_name, *p);
            } else if (key.str() == "timeout_s") {
                h.timeout_s = number(value, key_name);
                if (auto p = detail::check_handler_timeout(h.timeout_s))
                    fail(value.source(), key_name, *p);
            } else {
                std::string message = "unknown key";
                if (auto guess = detail::closest(key.str(), detail::handler_keys()))
                    message += " (did you mean " + dotted + "." + std::string(*guess) + "?)";
                fail(key.source(), key_name, message);
            }
        }
        if (!has_command) fail(node.source(), dotted, "missing required key \"command\"");
        return h;
    }

    std::vector<std::string> read_strings(const std::string& key_name, const toml::node& node) const {
        const auto* array = node.as_array();
        if (!array) fail(node.source(), key_name, expected("an array of strings", node));
        std::vector<std::string> strings;
        for (std::size_t i = 0; i < array->size(); ++i) {
            const auto& element = *array->get(i);
            const auto* text = element.as_string();
            if (!text)
                fail(element.source(), key_name,
                     "expected an array of strings, element " + std::to_string(i + 1) + " is " +
                         std::string(a_type(element.type())));
            strings.push_back(text->get());
        }
        return strings;
    }

    std::string_view source_;
    std::map<std::string, toml::source_region> where_;  ///< line of each key read, by dotted name
};

}  // namespace

settings parse_settings(std::string_view toml_text, std::string_view source) {
    toml::table root;
    try {
        root = toml::parse(toml_text, source);
    } catch (const toml::parse_error& e) {
        throw config_error(std::string(source) + ":" + std::to_string(e.source().begin.line) +
                           ": syntax error: " + std::string(e.description()));
    }
    return document_reader(source).read(root);
}

}  // namespace pfo3::config
