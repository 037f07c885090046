#pragma once
// The scope each op needs (SPEC 4.4): the one table the session's admission reads.
#include <optional>

#include "pfo3/auth/policy.hpp"
#include "pfo3/json/protocol.hpp"

namespace pfo3::net {

/// The scope `kind` needs; nullopt: none (ping, and auth itself).
std::optional<auth::scope> scope_of(json::op kind);

}  // namespace pfo3::net
