#include <catch2/catch.hpp>

#include "pfo3/core/task.hpp"

using namespace pfo3;

namespace {
task_record rec(task_status s, int attempts) {
    task_record r;
    r.id = "t";
    r.status = s;
    r.attempts = attempts;
    return r;
}
}  // namespace

TEST_CASE("a record only moves forward", "[record_order]") {
    using st = task_status;
    // Final records are never replaced, whatever comes.
    CHECK_FALSE(may_replace(rec(st::done, 1), rec(st::failed, 2)));
    CHECK_FALSE(may_replace(rec(st::done, 1), rec(st::done, 1)));
    CHECK_FALSE(may_replace(rec(st::dead, 3), rec(st::done, 4)));
    // A late failed of an earlier attempt does not hide a later attempt's record.
    CHECK_FALSE(may_replace(rec(st::failed, 2), rec(st::failed, 1)));
    CHECK_FALSE(may_replace(rec(st::failed, 2), rec(st::done, 1)));
    // Later attempts and progress within one attempt replace.
    CHECK(may_replace(rec(st::failed, 1), rec(st::failed, 2)));
    CHECK(may_replace(rec(st::failed, 1), rec(st::done, 2)));
    CHECK(may_replace(rec(st::failed, 2), rec(st::dead, 2)));
    CHECK(may_replace(rec(st::failed, 2), rec(st::failed, 2)));  // the same write again
    CHECK(is_final(st::done));
    CHECK(is_final(st::dead));
    CHECK_FALSE(is_final(st::failed));
    CHECK_FALSE(is_final(st::pending));
}

TEST_CASE("a requeue starts a new run that replaces the old one's records", "[record_order]") {
    using st = task_status;
    auto requeued = [](task_record r, int n) {
        r.requeues = n;
        return r;
    };
    // The operator sent a dead task back: its new run's records replace the dead one.
    CHECK(may_replace(rec(st::dead, 5), requeued(rec(st::failed, 1), 1)));
    CHECK(may_replace(rec(st::done, 1), requeued(rec(st::done, 1), 1)));
    // A stale record of the run before never replaces the new run's.
    CHECK_FALSE(may_replace(requeued(rec(st::failed, 1), 1), rec(st::dead, 5)));
    CHECK_FALSE(may_replace(requeued(rec(st::failed, 1), 2), requeued(rec(st::done, 3), 1)));
    // Within one requeue the usual rules hold.
    CHECK_FALSE(may_replace(requeued(rec(st::done, 1), 1), requeued(rec(st::failed, 2), 1)));
}

TEST_CASE("scheduled is the first record of a run and never hides a worker's", "[record_order]") {
    using st = task_status;
    // serve stores `scheduled` with attempts 0; every record of a run replaces it.
    CHECK(may_replace(rec(st::scheduled, 0), rec(st::failed, 1)));
    CHECK(may_replace(rec(st::scheduled, 0), rec(st::done, 1)));
    CHECK(may_replace(rec(st::scheduled, 0), rec(st::scheduled, 0)));  // the same write again
    // serve's write arriving after a short delay already ran changes nothing.
    CHECK_FALSE(may_replace(rec(st::done, 1), rec(st::scheduled, 0)));
    CHECK_FALSE(may_replace(rec(st::failed, 1), rec(st::scheduled, 0)));
    CHECK_FALSE(is_final(st::scheduled));
}

TEST_CASE("a cancel is kept until it is settled, and cancelled is final", "[record_order]") {
    using st = task_status;
    // A cancel replaces any record that is not final, whatever its attempt.
    CHECK(may_replace(rec(st::scheduled, 0), rec(st::cancel_requested, 0)));
    CHECK(may_replace(rec(st::failed, 3), rec(st::cancel_requested, 0)));
    CHECK(may_replace(rec(st::failed, 3), rec(st::cancelled, 1)));
    CHECK(may_replace(rec(st::cancel_requested, 0), rec(st::cancelled, 3)));
    CHECK(may_replace(rec(st::cancel_requested, 0), rec(st::cancel_requested, 0)));
    // A pending cancel is not lost to a stale or later `failed`, nor to a `scheduled`.
    CHECK_FALSE(may_replace(rec(st::cancel_requested, 0), rec(st::failed, 2)));
    CHECK_FALSE(may_replace(rec(st::cancel_requested, 2), rec(st::failed, 1)));
    CHECK_FALSE(may_replace(rec(st::cancel_requested, 0), rec(st::scheduled, 0)));
    // A run that ended before the cancel reached it keeps its outcome (the cancel is too late).
    CHECK(may_replace(rec(st::cancel_requested, 0), rec(st::done, 1)));
    CHECK(may_replace(rec(st::cancel_requested, 0), rec(st::dead, 5)));
    // Nothing replaces a final record, a cancel neither.
    CHECK_FALSE(may_replace(rec(st::done, 1), rec(st::cancel_requested, 0)));
    CHECK_FALSE(may_replace(rec(st::cancelled, 1), rec(st::done, 2)));
    CHECK_FALSE(may_replace(rec(st::cancelled, 1), rec(st::scheduled, 0)));
    CHECK_FALSE(may_replace(rec(st::cancelled, 0), rec(st::cancel_requested, 0)));
    CHECK(is_final(st::cancelled));
    CHECK_FALSE(is_final(st::cancel_requested));
    // A later requeue still starts a new run.
    task_record again = rec(st::scheduled, 0);
    again.requeues = 1;
    CHECK(may_replace(rec(st::cancelled, 1), again));
}

TEST_CASE("every status reads back from its name", "[record_order]") {
    for (task_status s : all_task_statuses) CHECK(parse_task_status(to_string(s)) == s);
    CHECK_FALSE(parse_task_status("running"));
}
