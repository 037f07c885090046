#include "pfo3/auth/policy.hpp"

#include <algorithm>

#include "pfo3/core/error.hpp"

namespace pfo3::auth {

namespace {

const principal& unrestricted() {
    static const principal p{"anonymous", scope_set::all()};
    return p;
}

bool accepts_tokens(mode m) { return m == mode::token || m == mode::any; }

}  // namespace

std::optional<mode> mode_named(std::string_view name) {
    if (name == "none") return mode::none;
    if (name == "token") return mode::token;
    if (name == "mtls") return mode::mtls;
    if (name == "any") return mode::any;
    return std::nullopt;
}

std::optional<principal> policy::by_token(std::string_view token) const {
    if (!accepts_tokens(o_.mode)) return std::nullopt;
    const token_entry* e = o_.tokens.find(token);
    if (!e) return std::nullopt;
    return principal{e->name, e->scopes};
}

std::optional<principal> policy::by_certificate(std::string_view subject) const {
    if (subject.empty() || !(o_.mode == mode::mtls || o_.mode == mode::any)) return std::nullopt;
    const auto at = o_.clients.find(subject);
    if (at == o_.clients.end()) return std::nullopt;
    return principal{std::string(subject), at->second};
}

std::optional<principal> policy::anonymous(std::string_view address) const {
    if (o_.anonymous_scopes.empty()) return std::nullopt;
    for (const auto& c : o_.anonymous_from)
        if (c.contains(address)) return principal{"anonymous@" + c.text(), o_.anonymous_scopes};
    return std::nullopt;
}

std::shared_ptr<const policy> make_policy(std::string_view mode_name, const std::string& tokens_file,
                                          const std::vector<std::string>& anonymous_from,
                                          const std::vector<std::string>& anonymous_scopes,
                                          std::chrono::milliseconds failure_delay, std::size_t max_failures,
                                          const std::map<std::string, std::vector<std::string>>& clients) {
    policy_options o;
    auto m = mode_named(mode_name);
    if (!m) throw config_error("auth.mode: unknown mode \"" + std::string(mode_name) + "\"");
    o.mode = *m;
    if (!tokens_file.empty() && accepts_tokens(o.mode)) o.tokens = token_table(load_tokens_file(tokens_file));
    for (const auto& text : anonymous_from) {
        std::string why;
        auto c = cidr::parse(text, why);
        if (!c) throw config_error("auth.anonymous_from: " + why);
        o.anonymous_from.push_back(*c);
    }
    std::string why;
    auto scopes = parse_scopes(anonymous_scopes, why);
    if (!scopes) throw config_error("auth.anonymous_scopes: " + why);
    o.anonymous_scopes = *scopes;
    for (const auto& [subject, names] : clients) {
        auto s = parse_scopes(names, why);
        if (!s) throw config_error("auth.clients." + subject + ": " + why);
        o.clients.emplace(subject, *s);
    }
    o.failure_delay = failure_delay;
    o.max_failures = std::max<std::size_t>(1, max_failures);
    return std::make_shared<const policy>(std::move(o));
}

std::optional<std::string> exposure_problem(std::string_view listen_host, mode m, bool allow_anonymous_network) {
    if (m != mode::none || allow_anonymous_network || is_loopback_host(listen_host)) return std::nullopt;
    return "serve.listen is " + std::string(listen_host) +
           ", reachable from other hosts, and auth.mode is \"none\": anyone who reaches it could run any "
           "handler and read any result. Set [auth] mode = \"token\" with tokens_file (pfo3 token new NAME "
           "--scopes submit,status), or listen on 127.0.0.1, or write [auth] allow_anonymous_network = true "
           "to accept that (see docs/security.md)";
}

gate::gate(std::shared_ptr<const policy> p, std::string_view peer_address, std::string_view cert_subject)
    : policy_(std::move(p)) {
    if (policy_->open()) return;
    current_ = policy_->by_certificate(cert_subject);
    if (!current_) current_ = policy_->anonymous(peer_address);
}

decision gate::fail(verdict v, std::string message) {
    ++failures_;
    return decision{v, std::move(message), nullptr};
}

decision gate::check_scope(const principal& who, std::optional<scope> needed) {
    if (!needed || who.scopes.has(*needed)) return decision{verdict::allowed, {}, &who};
    return fail(verdict::forbidden, who.name + " may not do this: it needs scope \"" + std::string(name_of(*needed)) +
                                        "\" and has " + (who.scopes.empty() ? "none" : who.scopes.to_string()));
}

decision gate::authenticate(std::string_view token) {
    if (policy_->open()) return decision{verdict::allowed, {}, &unrestricted()};
    if (!accepts_tokens(policy_->options().mode))
        return fail(verdict::unauthorized, "this server accepts client certificates only (auth.mode mtls)");
    auto who = policy_->by_token(token);
    if (!who) return fail(verdict::unauthorized, "the token is not valid");
    current_ = std::move(who);
    return decision{verdict::allowed, {}, &*current_};
}

decision gate::authorize(std::optional<scope> needed, std::string_view request_token) {
    if (policy_->open()) return decision{verdict::allowed, {}, &unrestricted()};
    if (!request_token.empty()) {
        per_request_ = policy_->by_token(request_token);
        if (!per_request_) return fail(verdict::unauthorized, "the request's token is not valid");
        return check_scope(*per_request_, needed);
    }
    if (!needed) return decision{verdict::allowed, {}, current()};
    if (!current_)
        return fail(verdict::unauthorized,
                    "authenticate first: send {\"op\":\"auth\",\"token\":\"...\"} or put \"token\" in the request");
    return check_scope(*current_, needed);
}

bool gate::exhausted() const { return failures_ >= policy_->options().max_failures; }

}  // namespace pfo3::auth
