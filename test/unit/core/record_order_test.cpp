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
