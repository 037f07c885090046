#pragma once
// Runs one external handler process for one task. Private to the handlers module.
#include "pfo3/handlers/registry.hpp"

namespace pfo3::handlers::detail {

/// Runs `cmd` with the task's payload on stdin and returns its outcome. Blocks the calling
/// thread until the process exits or times out; thread-safe (no shared state).
outcome run_external(const external_command& cmd, const task& t);

}  // namespace pfo3::handlers::detail
