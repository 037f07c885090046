#pragma once
// The built-in handlers: echo, sum/sumar, multiply/multiplicar, sleep. Private to handlers.
#include <chrono>
#include <string>
#include <string_view>

#include "pfo3/handlers/registry.hpp"

namespace pfo3::handlers::detail {

/// A built-in handler: the payload as JSON text and the task's time limit (0: none) in, the
/// outcome out. Thread-safe.
using builtin_fn = outcome (*)(const std::string& payload_json, std::chrono::milliseconds limit);

/// The built-in handler named `type` (aliases included), or nullptr.
builtin_fn find_builtin(std::string_view type) noexcept;

/// True for a built-in that needs no time and no limit (all but sleep).
bool is_instant_builtin(std::string_view type) noexcept;

}  // namespace pfo3::handlers::detail
