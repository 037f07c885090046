// The committer's grouping: at once when idle, a moment's wait when busy (result_committer.hpp).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "result_committer.hpp"
#include "worker_harness.hpp"

using namespace worker_test;
using pfo3::worker::delivery_guard;
using pfo3::worker::result_committer;

namespace {

pfo3::task_record stored_record(const std::string& id) {
    pfo3::task_record r;
    r.id = id;
    r.type = "echo";
    r.status = pfo3::task_status::done;
    r.payload_json = "1";
    r.result_json = "1";
    return r;
}

delivery_guard guard_for(recording_settler& settler) {
    pfo3::queue::delivery d;
    d.generation = 1;
    d.tag = next_tag++;
    return delivery_guard(std::move(d), settler);
}

// A linger long enough that a test can tell "waited for more" from "wrote at once" on a slow,
// noisy machine without timing anything tightly.
constexpr result_committer::linger long_linger{4, std::chrono::seconds(3), 32};

}  // namespace

TEST_CASE("committer: a record arriving while idle is written at once, not held for company", "[committer]") {
    temp_dir dir;
    faulty_store store(dir.path);
    recording_settler settler;
    result_committer committer(store, 1000, [](auto, auto, const auto&) {}, nullptr, long_linger);
    const auto started = std::chrono::steady_clock::now();
    committer.commit(stored_record("idle-1"), guard_for(settler));
    REQUIRE(settler.await_count(1));
    // Well below the 3 s a lingering group would wait.
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    CHECK(store.writes == 1);
}

TEST_CASE("committer: after a group of several, the next waits to gather the records that follow", "[committer]") {
    temp_dir dir;
    faulty_store store(dir.path);
    recording_settler settler;
    result_committer committer(store, 1000, [](auto, auto, const auto&) {}, nullptr, long_linger);
    // A group of 4 in one hand-over: the worker is busy.
    std::vector<pfo3::task_record> records;
    std::vector<delivery_guard> guards;
    for (int i = 0; i < 4; ++i) {
        records.push_back(stored_record("busy-" + std::to_string(i)));
        guards.push_back(guard_for(settler));
    }
    committer.commit(records, guards);
    REQUIRE(settler.await_count(4));
    REQUIRE(store.writes == 1);

    // Two records 100 ms apart: one group, written once the lingering ends (or 32 arrive).
    committer.commit(stored_record("late-1"), guard_for(settler));
    REQUIRE_FALSE(settler.await_count(5, std::chrono::milliseconds(100)));
    committer.commit(stored_record("late-2"), guard_for(settler));
    REQUIRE(settler.await_count(6));
    CHECK(store.writes == 2);
    CHECK(store.stored == 6);

    // 32 waiting end the wait at once.
    for (int i = 0; i < 32; ++i) {
        records.push_back(stored_record("full-" + std::to_string(i)));
        guards.push_back(guard_for(settler));
    }
    const auto started = std::chrono::steady_clock::now();
    committer.commit(records, guards);
    REQUIRE(settler.await_count(38));
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    CHECK(store.writes == 3);
}
