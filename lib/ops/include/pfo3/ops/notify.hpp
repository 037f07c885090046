#pragma once
// systemd readiness notification (Type=notify). A no-op when not run by systemd.
#include <chrono>
#include <string_view>

namespace pfo3::ops {

/// READY=1 with a STATUS= text.
void notify_ready(std::string_view status);
/// STOPPING=1.
void notify_stopping();
/// STATUS= text only.
void notify_status(std::string_view status);
/// The unit's WatchdogSec= (zero when there is none): send notify_watchdog() well within it.
std::chrono::microseconds watchdog_interval();
/// WATCHDOG=1: the role's event loop still turns (never sent on behalf of broker or store).
void notify_watchdog();

}  // namespace pfo3::ops
