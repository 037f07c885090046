#include "pfo3/ops/notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <string>

namespace pfo3::ops {

// sd_notify returns <= 0 when NOTIFY_SOCKET is unset or unreachable; neither is a reason to
// stop a role that works, so the result is deliberately not acted on.
void notify_ready(std::string_view status) {
    std::string msg = "READY=1\nSTATUS=" + std::string(status);
    (void)sd_notify(0, msg.c_str());
}

void notify_stopping() { (void)sd_notify(0, "STOPPING=1"); }

void notify_status(std::string_view status) {
    std::string msg = "STATUS=" + std::string(status);
    (void)sd_notify(0, msg.c_str());
}

std::chrono::microseconds watchdog_interval() {
    std::uint64_t usec = 0;
    // > 0 only when WATCHDOG_USEC is set for this very process (WATCHDOG_PID matches).
    if (sd_watchdog_enabled(0, &usec) <= 0) return std::chrono::microseconds(0);
    return std::chrono::microseconds(usec);
}

void notify_watchdog() { (void)sd_notify(0, "WATCHDOG=1"); }

}  // namespace pfo3::ops
