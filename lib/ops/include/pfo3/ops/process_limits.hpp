#pragma once
// Process-wide settings a role makes once at start, before any thread exists.
#include <chrono>
#include <csignal>
#include <cstddef>

namespace pfo3::ops {

/// Each connection is a descriptor: lifts the soft RLIMIT_NOFILE to the hard one (1024 by
/// default would cap serve far below its max_connections), and logs a warning when even that
/// is short of `connections` plus a small reserve. Returns the limit in force.
std::size_t raise_descriptor_limit(std::size_t connections);

/// Blocks SIGINT and SIGTERM in the calling thread; call it before any thread exists, so every
/// thread inherits the mask and only wait_stop_signal() receives them.
sigset_t block_stop_signals();

/// Waits for one of `set` (blocked everywhere); false if `timeout` passed first. A negative
/// timeout waits for ever. `sig` receives the signal.
bool wait_stop_signal(const sigset_t& set, std::chrono::milliseconds timeout, int& sig);

}  // namespace pfo3::ops
