#pragma once
// Wall-clock time as RFC 3339 text, the form used in messages and records.
#include <chrono>
#include <string>

namespace pfo3 {

/// "2026-11-28T02:18:54.123Z" for the given time (UTC, millisecond precision).
std::string to_rfc3339(std::chrono::system_clock::time_point t);
/// to_rfc3339(now).
std::string rfc3339_now();

}  // namespace pfo3
