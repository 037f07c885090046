#pragma once
// systemd readiness notification (Type=notify). A no-op when not run by systemd.
#include <string_view>

namespace pfo3::ops {

/// READY=1 with a STATUS= text.
void notify_ready(std::string_view status);
/// STOPPING=1.
void notify_stopping();
/// STATUS= text only.
void notify_status(std::string_view status);

}  // namespace pfo3::ops
