#include "op_scope.hpp"

namespace pfo3::net {

// One case per op; a new op that is not listed here does not compile (-Wswitch).
std::optional<auth::scope> scope_of(json::op kind) {
    switch (kind) {
    case json::op::submit: return auth::scope::submit;
    case json::op::status: return auth::scope::status;
    case json::op::cancel: return auth::scope::admin;  // issue 16: cancelling is an operator's act
    case json::op::dead_list: return auth::scope::admin;  // dead letters are the operator's (decision 0016)
    case json::op::dead_requeue: return auth::scope::admin;
    case json::op::dead_purge: return auth::scope::admin;
    case json::op::ping: return std::nullopt;
    case json::op::auth: return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace pfo3::net
