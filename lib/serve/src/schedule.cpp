#include "schedule.hpp"

#include "pfo3/core/clock.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::serve {

schedule_plan plan_schedule(const json::request& req, std::chrono::system_clock::time_point now,
                            const config::schedule_settings& s) {
    using namespace std::chrono;
    schedule_plan plan;
    if (!req.run_at && req.delay_s == 0) return plan;
    const system_clock::time_point at = req.run_at ? *req.run_at : now + seconds(req.delay_s);
    const auto wait = duration_cast<milliseconds>(at - now);
    if (wait > seconds(s.max_delay_s)) {
        plan.problem = "\"run_at\" is " + std::to_string(duration_cast<seconds>(wait).count()) +
                       " s away, more than the server's [schedule] max_delay_s (" + std::to_string(s.max_delay_s) +
                       " s)";
        return plan;
    }
    plan.units = queue::delay_units(wait, milliseconds(s.unit_ms));
    if (plan.units > 0) plan.run_at = to_rfc3339(at);
    return plan;
}

task_record scheduled_record(const task& t, const std::string& serve_identity) {
    task_record r;
    r.id = t.id;
    r.type = t.type;
    r.payload_json = t.payload_json;
    r.status = task_status::scheduled;
    r.attempts = 0;
    r.worker = serve_identity;
    r.submitted_at = t.submitted_at;
    r.requeues = t.requeues;
    return r;
}

}  // namespace pfo3::serve
