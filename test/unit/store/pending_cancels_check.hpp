#pragma once
// The one check every store's pending_cancels() passes (decision 0015): only records in
// cancel_requested are listed, with their error text, at most `limit` of them; serve's record
// of a task queued to run now (no type, no payload) is listed too.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "pfo3/store/result_store.hpp"
#include "sql_test_record.hpp"

namespace pfo3::test {

inline void check_pending_cancels(store::result_store& s) {
    std::vector<task_record> rows;
    for (auto [id, status] : {std::pair{"c-done", task_status::done}, std::pair{"c-failed", task_status::failed},
                              std::pair{"c-scheduled", task_status::scheduled},
                              std::pair{"c-cancelled", task_status::cancelled},
                              std::pair{"c-wanted", task_status::cancel_requested}}) {
        auto r = record(id, "null", status, status == task_status::scheduled ? 0 : 1);
        if (status == task_status::cancel_requested || status == task_status::cancelled)
            r.error = "cancel requested: " + std::string(id);
        rows.push_back(r);
    }
    task_record bare;  // what serve writes for a task queued to run now
    bare.id = "c-bare";
    bare.status = task_status::cancel_requested;
    bare.attempts = 0;
    bare.error = "cancel requested";
    rows.push_back(bare);
    s.write(rows);

    auto listed = s.pending_cancels(100);
    std::sort(listed.begin(), listed.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].id == "c-bare");
    CHECK(listed[0].why == "cancel requested");
    CHECK(listed[1].id == "c-wanted");
    CHECK(listed[1].why == "cancel requested: c-wanted");
    CHECK(s.pending_cancels(1).size() == 1);

    // Settled: listed no more.
    auto settled = record("c-wanted", "null", task_status::cancelled, 1);
    settled.error = "cancel requested: c-wanted";
    s.write(std::span(&settled, 1));
    listed = s.pending_cancels(100);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].id == "c-bare");
}

}  // namespace pfo3::test
