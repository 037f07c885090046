#include <catch2/catch.hpp>

#include <vector>

#include "newest_records.hpp"

using pfo3::task_record;
using pfo3::task_status;
using pfo3::store::newest_per_id;

namespace {

task_record rec(std::string id, task_status s, int attempts, std::string result = "null") {
    task_record r;
    r.id = std::move(id);
    r.status = s;
    r.attempts = attempts;
    r.result_json = std::move(result);
    return r;
}

}  // namespace

TEST_CASE("a group keeps one record per id, the newest by may_replace", "[newest_records]") {
    using st = task_status;
    const std::vector<task_record> group{
        rec("b", st::done, 2),            // a retry's done ...
        rec("a", st::failed, 1),
        rec("b", st::failed, 1),          // ... and its attempt's late failed
        rec("c", st::done, 1, "1"),
        rec("a", st::failed, 2),          // a later attempt wins
        rec("c", st::done, 1, "2"),       // a second final record never replaces the first
        rec("d", st::failed, 3, "x"),
        rec("d", st::failed, 3, "y"),     // the same attempt again: the later write wins
        rec("e", st::dead, 4),
        rec("e", st::done, 5),            // nothing replaces a final record
        rec("f", st::failed, 2),
        rec("f", st::dead, 2),            // further along in the same attempt
    };
    auto kept = newest_per_id(group);
    REQUIRE(kept.size() == 6);
    CHECK(kept[0] == &group[4]);
    CHECK(kept[1] == &group[0]);
    CHECK(kept[2] == &group[3]);
    CHECK(kept[3] == &group[7]);
    CHECK(kept[4] == &group[8]);
    CHECK(kept[5] == &group[11]);
}

TEST_CASE("a group without repeated ids comes back whole, sorted by id", "[newest_records]") {
    const std::vector<task_record> group{rec("z", task_status::done, 1), rec("m", task_status::failed, 1),
                                         rec("a", task_status::dead, 3)};
    auto kept = newest_per_id(group);
    REQUIRE(kept.size() == 3);
    CHECK(kept[0]->id == "a");
    CHECK(kept[1]->id == "m");
    CHECK(kept[2]->id == "z");
    CHECK(newest_per_id({}).empty());
}
