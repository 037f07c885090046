#pragma once
// Wall-clock time as RFC 3339 text, the form used in messages and records; durations given in
// seconds (the config's *_s keys, the CLI's --*-timeout flags) as the milliseconds code waits.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pfo3 {

/// "2026-11-28T02:18:54.123Z" for the given time (UTC, millisecond precision).
std::string to_rfc3339(std::chrono::system_clock::time_point t);
/// to_rfc3339(now).
std::string rfc3339_now();
/// The time RFC 3339 text names: "YYYY-MM-DDTHH:MM:SS", optional fraction (kept to the
/// millisecond), then "Z" or "+HH:MM"/"-HH:MM" ('t', 'z' and a space for 'T' accepted).
/// nullopt for anything else, an impossible date or time (Feb 30, 25:00) included.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) noexcept;

/// `seconds` as whole milliseconds, rounded to the nearest (1.001 s is 1001 ms; truncating
/// `seconds * 1000` gives 1000, since 1.001 * 1000 is 1000.9999… in binary).
std::chrono::milliseconds ms_of_seconds(double seconds) noexcept;

/// "90" or "90s", "90m", "2h", "1d" (at most 9 digits) in seconds; nullopt for anything else.
std::optional<std::int64_t> parse_duration_s(std::string_view text) noexcept;

}  // namespace pfo3
