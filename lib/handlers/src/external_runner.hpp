#pragma once
// Runs one external handler process for one task. Private to the handlers module.
#include "pfo3/handlers/registry.hpp"
#include "pfo3/handlers/stop_request.hpp"

namespace pfo3::handlers::detail {

/// Runs `cmd` with the task's payload on stdin and returns its outcome. Blocks the calling
/// thread until the process exits, times out or is stopped by `stop` (may be null: see
/// stop_request); thread-safe (no shared state).
outcome run_external(const external_command& cmd, const task& t, const stop_request* stop = nullptr);

}  // namespace pfo3::handlers::detail
