#pragma once
// What every SQL result store promises, written once and run against each (sqlite_store_test,
// postgres_store_test): the test bodies take the store under test.
#include <catch2/catch.hpp>

#include <span>
#include <string>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pfo3/core/task.hpp"
#include "pfo3/store/result_store.hpp"
#include "sql_test_record.hpp"

namespace pfo3::test {

/// Every pair of standings (each stored status × attempt × requeue), each under an id of its
/// own: a first group stores one, a second group offers the other, and the row afterwards is
/// what may_replace says (scheduled and cancel records included).
inline void check_moves_only_as_may_replace(store::result_store& store) {
    std::vector<task_record> standings;
    for (task_status status : all_task_statuses) {
        if (status == task_status::pending) continue;  // never stored
        for (int attempts : {1, 2, 3})
            for (int requeues : {0, 1}) {
                auto r = record("", "null", status, attempts);
                r.requeues = requeues;
                standings.push_back(r);
            }
    }
    std::vector<task_record> first, second;
    for (std::size_t i = 0; i < standings.size(); ++i)
        for (std::size_t j = 0; j < standings.size(); ++j) {
            const std::string id = "p-" + std::to_string(i) + "-" + std::to_string(j);
            first.push_back(standings[i]);
            first.back().id = id;
            first.back().result_json = "\"first\"";
            second.push_back(standings[j]);
            second.back().id = id;
            second.back().result_json = "\"second\"";
        }
    store.write(first);
    store.write(second);
    for (std::size_t k = 0; k < first.size(); ++k) {
        auto got = store.read(first[k].id);
        REQUIRE(got);
        const bool replaced = may_replace(first[k], second[k]);
        INFO(first[k].id << ": " << to_string(first[k].status) << "@" << first[k].attempts << "/" << first[k].requeues
                         << " then " << to_string(second[k].status) << "@" << second[k].attempts << "/"
                         << second[k].requeues);
        CHECK(got->result_json == (replaced ? "\"second\"" : "\"first\""));
        CHECK(got->status == (replaced ? second[k] : first[k]).status);
    }
}

/// A record whose id is not a valid task id is refused as such and never found.
inline void check_invalid_id_refused(store::result_store& store) {
    auto r = record("bad id");
    CHECK_THROWS_AS(store.write(std::span(&r, 1)), record_rejected);
    CHECK_FALSE(store.read("bad id"));
}

}  // namespace pfo3::test
