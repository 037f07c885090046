#pragma once
// Who may read serve's operations endpoints (/metrics, the page, /api/*). A request from a
// loopback address is answered: whoever runs there can read the process anyway. From anywhere
// else, with [auth] mode other than none, the request needs the endpoint's scope: from a token
// (`Authorization: Bearer pfo3_…`, the tokens file of the client port) or, without one, from
// `anonymous_from`/`anonymous_scopes`. Mode none answers everyone: serve refuses to start with
// it off loopback unless allow_anonymous_network says the network is trusted. Immutable; any
// thread.
#include <memory>
#include <optional>

#include "pfo3/auth/policy.hpp"
#include "pfo3/http/server.hpp"

namespace pfo3::sight {

class http_gate {
public:
    /// `p` null: mode none.
    explicit http_gate(std::shared_ptr<const auth::policy> p) : policy_(std::move(p)) {}
    /// The refusal (401 without a valid token, 403 without the scope), or nullopt.
    std::optional<http::response> refuse(const http::request& r, auth::scope needed) const;

private:
    std::shared_ptr<const auth::policy> policy_;
};

}  // namespace pfo3::sight
