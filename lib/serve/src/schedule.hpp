#pragma once
// What serve does with a submit's "run_at" / "delay_s" (decision 0012): when the task may run,
// how many ladder units it waits, and the `scheduled` record serve stores for it.
#include <chrono>
#include <cstdint>
#include <string>

#include "pfo3/config/settings.hpp"
#include "pfo3/core/task.hpp"
#include "pfo3/json/protocol.hpp"

namespace pfo3::serve {

/// A submit's schedule: units == 0 means "run now" (nothing asked, delay 0, or a past run_at).
struct schedule_plan {
    std::int64_t units = 0;  ///< ladder units to wait (queue::delay_units, rounded up)
    std::string run_at;      ///< RFC 3339 UTC, set when units > 0
    std::string problem;     ///< non-empty: bad_request with this message
};

/// The plan for `req` submitted at `now` under `s`. A run_at more than max_delay_s ahead is a
/// problem (a delay_s above it was refused when the request was decoded).
schedule_plan plan_schedule(const json::request& req, std::chrono::system_clock::time_point now,
                            const config::schedule_settings& s);

/// The record serve stores for a scheduled task: status `scheduled`, attempts 0 (every record
/// a worker writes replaces it; pfo3::may_replace), `worker` = serve's identity.
task_record scheduled_record(const task& t, const std::string& serve_identity);

}  // namespace pfo3::serve
