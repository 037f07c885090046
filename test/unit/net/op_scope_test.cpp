// The scope each op needs before the session hands it to the dispatcher (SPEC 4.4).
#include <catch2/catch.hpp>

#include <optional>

#include "op_scope.hpp"

using pfo3::auth::scope;
using pfo3::json::op;
using pfo3::net::scope_of;

TEST_CASE("each op needs the scope SPEC 4.4 names") {
    CHECK(scope_of(op::submit) == std::optional(scope::submit));
    CHECK(scope_of(op::status) == std::optional(scope::status));
    CHECK(scope_of(op::cancel) == std::optional(scope::admin));
}

TEST_CASE("ping and auth itself need no scope") {
    CHECK(scope_of(op::ping) == std::nullopt);
    CHECK(scope_of(op::auth) == std::nullopt);
}
