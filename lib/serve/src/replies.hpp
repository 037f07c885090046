#pragma once
// The reply lines a submit's publish outcome becomes, and the error code read back from a reply
// line (for the request counter).
#include <optional>
#include <string>
#include <string_view>

#include "pfo3/core/error.hpp"
#include "pfo3/queue/publisher.hpp"

namespace pfo3::serve {

/// The reply to a submit of task `id` whose publish ended with `o`.
std::string publish_answer(queue::publish_outcome o, const std::string& id);

/// The error code of a reply line; nullopt for {"ok":true...}; `unavailable` for a refusal
/// whose code is unknown.
std::optional<request_error> error_of(std::string_view line);

}  // namespace pfo3::serve
