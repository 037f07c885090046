#pragma once
// Wall-clock time as RFC 3339 text, the form used in messages and records.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pfo3 {

/// "2026-11-28T02:18:54.123Z" for the given time (UTC, millisecond precision).
std::string to_rfc3339(std::chrono::system_clock::time_point t);
/// to_rfc3339(now).
std::string rfc3339_now();
/// The time of "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace pfo3
