#pragma once
// Who may do what on the client port. A `policy` is built once from [auth] (and rebuilt on
// reload) and shared read-only by every connection; each connection keeps a `gate`, which
// tracks its principal and its failures. The policy is immutable and safe on any thread; a
// gate belongs to one connection's strand.
#include <chrono>
#include <cstddef>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pfo3/auth/cidr.hpp"
#include "pfo3/auth/scopes.hpp"
#include "pfo3/auth/tokens.hpp"

namespace pfo3::auth {

/// How clients prove who they are.
enum class mode { none, token, mtls, any };

/// "none", "token", "mtls", "any" to a mode (config validated the text already).
std::optional<mode> mode_named(std::string_view name);

/// Everything a policy is made of.
struct policy_options {
    auth::mode mode = mode::none;
    token_table tokens;
    std::vector<cidr> anonymous_from;
    scope_set anonymous_scopes;
    /// Client certificate subjects (RFC 2253, "CN=svc") and their scopes (mode mtls and any).
    std::map<std::string, scope_set, std::less<>> clients;
    std::chrono::milliseconds failure_delay{1000};
    std::size_t max_failures = 3;
};

/// Who is asking, and what they may do.
struct principal {
    std::string name;
    scope_set scopes;
};

/// See the file comment.
class policy {
public:
    explicit policy(policy_options o) : o_(std::move(o)) {}
    const policy_options& options() const { return o_; }
    /// True when nothing is checked (mode none).
    bool open() const { return o_.mode == mode::none; }
    /// The principal of a token (mode token or any), or nullopt.
    std::optional<principal> by_token(std::string_view token) const;
    /// The principal of a verified client certificate's subject (mode mtls or any), or nullopt.
    std::optional<principal> by_certificate(std::string_view subject) const;
    /// The anonymous principal when `address` is inside auth.anonymous_from, or nullopt.
    std::optional<principal> anonymous(std::string_view address) const;

private:
    policy_options o_;
};

/// Builds a policy from the [auth] settings' parts, loading the tokens file; throws
/// config_error naming the key or the file.
std::shared_ptr<const policy> make_policy(std::string_view mode_name, const std::string& tokens_file,
                                          const std::vector<std::string>& anonymous_from,
                                          const std::vector<std::string>& anonymous_scopes,
                                          std::chrono::milliseconds failure_delay, std::size_t max_failures,
                                          const std::map<std::string, std::vector<std::string>>& clients = {});

/// Why serve must not listen on `listen_host` with `m` (mode none on anything but loopback
/// without allow_anonymous_network), saying what to set; nullopt when it may.
std::optional<std::string> exposure_problem(std::string_view listen_host, mode m, bool allow_anonymous_network);

/// The decision on one request.
enum class verdict { allowed, unauthorized, forbidden };

/// The result of gate::authorize() / gate::authenticate().
struct decision {
    verdict what = verdict::allowed;
    std::string message;                  ///< for the client, when not allowed
    const principal* who = nullptr;       ///< when allowed (valid until the gate changes)
};

/// One connection's view of the policy: its principal (from `auth`, or anonymous by address),
/// and how many times it failed. Lives on the connection's strand.
class gate {
public:
    /// `peer_address` is the client's numeric address (for anonymous_from); `cert_subject` the
    /// verified client certificate's subject (empty: none), which wins over the address.
    gate(std::shared_ptr<const policy> p, std::string_view peer_address, std::string_view cert_subject = {});

    /// The `auth` op: on success the connection's principal becomes the token's.
    decision authenticate(std::string_view token);
    /// Any other op: `needed` is its scope (nullopt: none, e.g. ping); `request_token` is the
    /// request's own "token" (empty: none), which counts for this request only.
    decision authorize(std::optional<scope> needed, std::string_view request_token);

    /// Failures so far have reached policy's max_failures: close the connection.
    bool exhausted() const;
    /// How long a failure's answer is held back.
    std::chrono::milliseconds failure_delay() const { return policy_->options().failure_delay; }
    /// The connection's principal, or nullptr.
    const principal* current() const { return current_ ? &*current_ : nullptr; }

private:
    decision fail(verdict v, std::string message);
    decision check_scope(const principal& who, std::optional<scope> needed);

    std::shared_ptr<const policy> policy_;
    std::optional<principal> current_;
    std::optional<principal> per_request_;  // the last request's own token's principal
    std::size_t failures_ = 0;
};

}  // namespace pfo3::auth
