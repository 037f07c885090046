// When serve lets a submit run (decision 0012) and the `scheduled` record it stores: no
// clock, no broker, no store.
#include <catch2/catch.hpp>

#include <chrono>

#include "pfo3/core/clock.hpp"
#include "schedule.hpp"

using namespace std::chrono;
using pfo3::serve::plan_schedule;

namespace {

const system_clock::time_point now = system_clock::time_point(seconds(1'800'000'000)) + milliseconds(250);

pfo3::config::schedule_settings ladder(int unit_ms = 1000, std::int64_t max_delay_s = 3600) {
    pfo3::config::schedule_settings s;
    s.unit_ms = unit_ms;
    s.max_delay_s = max_delay_s;
    return s;
}

}  // namespace

TEST_CASE("a submit that asks for no time runs now") {
    pfo3::json::request req;
    auto plan = plan_schedule(req, now, ladder());
    CHECK(plan.units == 0);
    CHECK(plan.run_at.empty());
    CHECK(plan.problem.empty());
}

TEST_CASE("a delay waits whole ladder units from now and names the time it runs") {
    pfo3::json::request req;
    req.delay_s = 5;
    auto plan = plan_schedule(req, now, ladder());
    CHECK(plan.units == 5);
    CHECK(plan.run_at == pfo3::to_rfc3339(now + seconds(5)));
    CHECK(plan.problem.empty());
}

TEST_CASE("a run_at between units is rounded up, never started early") {
    pfo3::json::request req;
    req.run_at = now + milliseconds(2'100);
    auto plan = plan_schedule(req, now, ladder(1000));
    CHECK(plan.units == 3);
    CHECK(plan.run_at == pfo3::to_rfc3339(*req.run_at));
}

TEST_CASE("a run_at in the past runs now") {
    pfo3::json::request req;
    req.run_at = now - hours(1);
    auto plan = plan_schedule(req, now, ladder());
    CHECK(plan.units == 0);
    CHECK(plan.run_at.empty());
    CHECK(plan.problem.empty());
}

TEST_CASE("a run_at beyond max_delay_s is a problem that names both figures") {
    pfo3::json::request req;
    req.run_at = now + seconds(7200);
    auto plan = plan_schedule(req, now, ladder(1000, 3600));
    CHECK(plan.units == 0);
    CHECK_THAT(plan.problem, Catch::Contains("7200 s away") && Catch::Contains("max_delay_s (3600 s)"));
}

TEST_CASE("a run_at exactly max_delay_s ahead is taken") {
    pfo3::json::request req;
    req.run_at = now + seconds(3600);
    auto plan = plan_schedule(req, now, ladder(1000, 3600));
    CHECK(plan.problem.empty());
    CHECK(plan.units == 3600);
}

TEST_CASE("the scheduled record carries the task and serve's identity, with no attempt yet") {
    pfo3::task t;
    t.id = "t-1";
    t.type = "echo";
    t.payload_json = R"({"a":1})";
    t.submitted_at = "2027-01-15T08:00:00.250Z";
    t.requeues = 2;
    auto r = pfo3::serve::scheduled_record(t, "serve@host");
    CHECK(r.id == "t-1");
    CHECK(r.type == "echo");
    CHECK(r.payload_json == R"({"a":1})");
    CHECK(r.status == pfo3::task_status::scheduled);
    CHECK(r.attempts == 0);
    CHECK(r.worker == "serve@host");
    CHECK(r.submitted_at == t.submitted_at);
    CHECK(r.requeues == 2);
}
