#include "pfo3/sight/http_gate.hpp"

#include "pfo3/auth/cidr.hpp"

namespace pfo3::sight {

struct http_gate::shared {
    mutable std::mutex mu;
    std::shared_ptr<const auth::policy> policy;  // guarded by mu
};

http_gate::http_gate(std::shared_ptr<const auth::policy> p) : shared_(std::make_shared<shared>()) {
    shared_->policy = std::move(p);
}

void http_gate::set(std::shared_ptr<const auth::policy> p) {
    std::lock_guard lk(shared_->mu);
    shared_->policy = std::move(p);
}

std::optional<http::response> http_gate::refuse(const http::request& r, auth::scope needed) const {
    std::shared_ptr<const auth::policy> policy;
    {
        std::lock_guard lk(shared_->mu);
        policy = shared_->policy;
    }
    if (!policy || policy->open() || auth::is_loopback_host(r.peer)) return std::nullopt;
    std::optional<auth::principal> who;
    constexpr std::string_view bearer = "Bearer ";
    if (r.authorization.starts_with(bearer)) {
        who = policy->by_token(std::string_view(r.authorization).substr(bearer.size()));
        if (!who)
            return http::response{401, "text/plain; charset=utf-8", "unauthorized: unknown token\n",
                                  {{"WWW-Authenticate", "Bearer"}}};
    } else {
        who = policy->anonymous(r.peer);
    }
    if (!who)
        return http::response{401, "text/plain; charset=utf-8",
                              "unauthorized: send Authorization: Bearer TOKEN (a token with the '" +
                                  std::string(auth::name_of(needed)) + "' scope)\n",
                              {{"WWW-Authenticate", "Bearer"}}};
    if (!who->scopes.has(needed))
        return http::response{403, "text/plain; charset=utf-8",
                              "forbidden: '" + who->name + "' lacks the '" + std::string(auth::name_of(needed)) +
                                  "' scope\n"};
    return std::nullopt;
}

}  // namespace pfo3::sight
