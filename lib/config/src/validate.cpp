// validate: the same rules as the file parser, run again once command-line flags were applied.
#include "pfo3/config/amqp_urls.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "amqp_urls.hpp"
#include "broker_rules.hpp"
#include "auth_section.hpp"
#include "rules.hpp"

namespace pfo3::config {

void validate(const settings& s) {
    auto fail = [](std::string_view key, const std::string& message) {
        throw config_error(std::string(key) + ": " + message);
    };
    for (const auto& k : detail::keys())
        if (auto p = detail::check_current(k, s)) fail(k.dotted(), *p);
    if (!s.amqp.urls.empty())
        if (auto p = detail::check_amqp_urls(s.amqp.urls)) fail("amqp.urls", *p);
    if (auto p = detail::check_backoff_max(s.retry)) fail("retry.backoff_max_s", *p);
    if (auto p = detail::check_attempts_within_limit(s.retry)) fail("retry.max_attempts", *p);
    if (auto p = detail::check_s3_pair(s.store)) fail("store", *p);
    if (auto p = detail::check_max_priority(s.amqp)) fail("amqp.max_priority", *p);
    std::string timeout_key;
    if (auto p = detail::check_consumer_timeout(s, timeout_key)) fail(timeout_key, *p);
    if (auto p = detail::check_auth(s.auth)) fail("auth", *p);
    if (auto p = detail::check_serve_tls(s.serve.tls)) fail("serve.tls", *p);
    for (const auto& url : broker_urls(s.amqp))  // every broker of the failover list
        if (auto p = detail::check_amqp_tls(s.amqp.tls, url)) fail("amqp.tls", *p);
    for (const auto& [name, h] : s.handlers) {
        std::string dotted = "handlers." + name;
        if (auto p = detail::check_handler_name(name)) fail(dotted, *p);
        if (auto p = detail::check_handler_command(h.command)) fail(dotted + ".command", *p);
        if (auto p = detail::check_handler_timeout(h.timeout_s)) fail(dotted + ".timeout_s", *p);
        if (auto p = detail::check_handler_env(h.env)) fail(dotted + ".env", *p);
    }
}

}  // namespace pfo3::config
