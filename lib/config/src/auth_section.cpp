#include "auth_section.hpp"

#include "pfo3/auth/cidr.hpp"
#include "pfo3/auth/scopes.hpp"
#include "pfo3/core/error.hpp"

namespace pfo3::config::detail {

namespace {

constexpr std::string_view modes[] = {"none", "token", "mtls", "any"};
constexpr std::string_view key_names[] = {"mode",           "tokens_file",      "allow_anonymous_network",
                                          "anonymous_from", "anonymous_scopes", "failure_delay_ms",
                                          "max_failures",   "clients"};
constexpr std::string_view tls_key_names[] = {"mode",           "cert_file",   "key_file", "min_version",
                                              "handshake_timeout_ms", "client_ca_file", "client_cert"};
constexpr integer_rule handshake_rule{nullptr, nullptr, 100, 600000};
constexpr std::string_view amqp_tls_key_names[] = {"ca_file", "cert_file", "key_file", "verify_peer",
                                                   "verify_hostname", "sasl"};

problem one_of(std::string_view v, std::initializer_list<std::string_view> allowed) {
    std::string list;
    for (auto a : allowed) {
        if (v == a) return std::nullopt;
        list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
    }
    return "must be one of " + list + ", got " + quote(v);
}
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
            } else if (k == "clients") {
                const auto* clients = value.as_table();
                if (!clients) fail(value.source(), dotted, "expected a table of SUBJECT = [scopes]");
                for (auto&& [subject, scopes] : *clients) {
                    const std::string key_name = dotted + "." + quote(subject.str());
                    auto list = strings(scopes, key_name);
                    if (auto bad = check_scope_names(list)) fail(scopes.source(), key_name, *bad);
                    a.clients[std::string(subject.str())] = std::move(list);
                }
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

    bool boolean(const toml::node& node, const std::string& dotted) const {
        const auto* b = node.as_boolean();
        if (!b) fail(node.source(), dotted, "expected a boolean (true or false)");
        return b->get();
    }

public:
    amqp_tls_settings read_amqp_tls(const toml::node& node) {
        const auto* table = node.as_table();
        if (!table) fail(node.source(), "amqp.tls", "expected a table");
        amqp_tls_settings t;
        for (auto&& [key, value] : *table) {
            const std::string k(key.str());
            const std::string dotted = "amqp.tls." + k;
            problem p;
            if (k == "ca_file") {
                t.ca_file = text(value, dotted);
            } else if (k == "cert_file") {
                t.cert_file = text(value, dotted);
            } else if (k == "key_file") {
                t.key_file = text(value, dotted);
            } else if (k == "verify_peer") {
                t.verify_peer = boolean(value, dotted);
            } else if (k == "verify_hostname") {
                t.verify_hostname = boolean(value, dotted);
            } else if (k == "sasl") {
                t.sasl = text(value, dotted);
                p = one_of(t.sasl, {"plain", "external"});
            } else {
                std::string message = "unknown key";
                if (auto guess = closest(k, amqp_tls_key_names))
                    message += " (did you mean amqp.tls." + std::string(*guess) + "?)";
                fail(key.source(), dotted, message);
            }
            if (p) fail(value.source(), dotted, *p);
        }
        if (t.sasl == "external" && t.cert_file.empty())
            fail(node.source(), "amqp.tls", "sasl \"external\" logs in with the client certificate: set amqp.tls.cert_file");
        return t;
    }

    serve_tls_settings read_tls(const toml::node& node) {
        const auto* table = node.as_table();
        if (!table) fail(node.source(), "serve.tls", "expected a table");
        serve_tls_settings t;
        for (auto&& [key, value] : *table) {
            const std::string k(key.str());
            const std::string dotted = "serve.tls." + k;
            problem p;
            if (k == "mode") {
                t.mode = text(value, dotted);
                p = one_of(t.mode, {"off", "optional", "required"});
            } else if (k == "cert_file") {
                t.cert_file = text(value, dotted);
            } else if (k == "key_file") {
                t.key_file = text(value, dotted);
            } else if (k == "min_version") {
                t.min_version = text(value, dotted);
                p = one_of(t.min_version, {"1.2", "1.3"});
            } else if (k == "handshake_timeout_ms") {
                t.handshake_timeout_ms = static_cast<int>(integer(value, dotted, handshake_rule));
            } else if (k == "client_ca_file") {
                t.client_ca_file = text(value, dotted);
            } else if (k == "client_cert") {
                t.client_cert = text(value, dotted);
                p = one_of(t.client_cert, {"none", "optional", "required"});
            } else {
                std::string message = "unknown key";
                if (auto guess = closest(k, tls_key_names))
                    message += " (did you mean serve.tls." + std::string(*guess) + "?)";
                fail(key.source(), dotted, message);
            }
            if (p) fail(value.source(), dotted, *p);
        }
        if (auto p = check_serve_tls(t)) fail(node.source(), "serve.tls", *p);
        return t;
    }
};

}  // namespace

serve_tls_settings read_serve_tls_section(const toml::node& node, std::string_view source) {
    return section_reader(source).read_tls(node);
}

amqp_tls_settings read_amqp_tls_section(const toml::node& node, std::string_view source) {
    return section_reader(source).read_amqp_tls(node);
}

problem check_amqp_tls(const amqp_tls_settings& t, std::string_view url) {
    if (auto p = one_of(t.sasl, {"plain", "external"})) return "amqp.tls.sasl " + *p;
    if (t.sasl == "external" && t.cert_file.empty())
        return "sasl \"external\" logs in with the client certificate: set amqp.tls.cert_file";
    if (t.sasl == "external" && !url.starts_with("amqps://"))
        return "sasl \"external\" needs an amqps:// amqp.url (the certificate travels in TLS)";
    return std::nullopt;
}

problem check_serve_tls(const serve_tls_settings& t) {
    if (auto p = one_of(t.mode, {"off", "optional", "required"})) return "serve.tls.mode " + *p;
    if (auto p = one_of(t.min_version, {"1.2", "1.3"})) return "serve.tls.min_version " + *p;
    if (auto p = one_of(t.client_cert, {"none", "optional", "required"})) return "serve.tls.client_cert " + *p;
    if (auto p = check(handshake_rule, t.handshake_timeout_ms)) return "serve.tls.handshake_timeout_ms " + *p;
    if (t.mode != "off" && (t.cert_file.empty() || t.key_file.empty()))
        return "serve.tls.mode \"" + t.mode + "\" needs serve.tls.cert_file and serve.tls.key_file";
    if (t.client_cert != "none" && t.client_ca_file.empty())
        return "serve.tls.client_cert \"" + t.client_cert + "\" needs serve.tls.client_ca_file";
    if (t.client_cert != "none" && t.mode == "off")
        return "serve.tls.client_cert \"" + t.client_cert + "\" needs serve.tls.mode optional or required";
    return std::nullopt;
}

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
