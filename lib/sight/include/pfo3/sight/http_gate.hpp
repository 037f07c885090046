#pragma once
// Who may read serve's operations endpoints (/metrics, the page, /api/*). A request from a
// loopback address is answered: whoever runs there can read the process anyway. From anywhere
// else, with [auth] mode other than none, the request needs the endpoint's scope: from a token
// (`Authorization: Bearer pfo3_…`, the tokens file of the client port) or, without one, from
// `anonymous_from`/`anonymous_scopes`. Mode none answers everyone: serve refuses to start with
// it off loopback unless allow_anonymous_network says the network is trusted. Copies share
// one policy, which set() replaces (a SIGHUP reload of the tokens file). Thread-safe.
#include <memory>
#include <mutex>
#include <optional>

#include "pfo3/auth/policy.hpp"
#include "pfo3/http/server.hpp"

namespace pfo3::sight {

class http_gate {
public:
    /// `p` null: mode none.
    explicit http_gate(std::shared_ptr<const auth::policy> p);
    /// The refusal (401 without a valid token, 403 without the scope), or nullopt.
    std::optional<http::response> refuse(const http::request& r, auth::scope needed) const;
    /// Every copy uses `p` from now on.
    void set(std::shared_ptr<const auth::policy> p);

private:
    struct shared;
    std::shared_ptr<shared> shared_;
};

}  // namespace pfo3::sight
