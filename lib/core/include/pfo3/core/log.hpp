#pragma once
// Structured logging to stderr (journald takes it under systemd), text or JSON lines.
// Thread-safe; one write(2) per line so lines from several threads never interleave.
//
//   PFO3_LOG(info, "connected to broker", {{"url", masked}});
//   PFO3_LOG(warn, "task was NOT accepted", {{"task_id", id}, {"error", "nack"}});
//
// The macro checks the level before the message or its fields are built.
#include <initializer_list>
#include <string>
#include <string_view>

namespace pfo3::log {

enum class level { trace, debug, info, warn, error, off };
enum class format { text, json };

/// One key/value pair of a log line.
struct field {
    std::string_view key;
    std::string_view value;
};

/// Sets the threshold and format; call once at start-up, before other threads exist.
void configure(level threshold, format fmt);
/// Parses "trace|debug|info|warn|error"; false if unknown.
bool parse_level(std::string_view s, level& out) noexcept;
/// Parses "text|json"; false if unknown.
bool parse_format(std::string_view s, format& out) noexcept;
/// Sets the "role" field every line carries (serve, work, send).
void set_role(std::string_view role);

/// True if a message at this level is written.
bool enabled(level l) noexcept;
/// Writes one line. Prefer PFO3_LOG, which skips building the arguments when disabled.
void write(level l, std::string_view message, std::initializer_list<field> fields = {});

/// The URL with its password replaced by "***" (amqp://u:***@h/), for logs and errors; the
/// password is found as find_userinfo (url.hpp) finds it, so one holding / ? # @ is hidden whole.
std::string mask_url(std::string_view url);

}  // namespace pfo3::log

#define PFO3_LOG(lvl, ...)                                                   \
    do {                                                                     \
        if (::pfo3::log::enabled(::pfo3::log::level::lvl))                   \
            ::pfo3::log::write(::pfo3::log::level::lvl, __VA_ARGS__);        \
    } while (0)
