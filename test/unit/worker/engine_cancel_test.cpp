// The engine with a cancel board (decision 0015): a delivery whose id has a pending cancel is
// settled from its record without running; a stale entry (the record says otherwise) runs.
#include <catch2/catch.hpp>

#include "pfo3/worker/cancel_board.hpp"
#include "worker_harness.hpp"

using namespace worker_test;
using pfo3::task_status;

namespace {

// serve's record of a task queued to run now: the id, the status and the reason only.
pfo3::task_record bare_cancel(const std::string& id) {
    pfo3::task_record r;
    r.id = id;
    r.status = task_status::cancel_requested;
    r.attempts = 0;
    r.error = "cancel requested: not wanted";
    return r;
}

struct cancel_rig {
    pfo3::worker::cancel_board board{100, std::chrono::seconds(1)};
    engine_rig<counted_handlers> rig{with_board()};
    pfo3::worker::engine_options with_board() {
        auto o = options();
        o.cancels = &board;
        return o;
    }
};

}  // namespace

TEST_CASE("a queued task with a pending cancel is acked and stored cancelled without running", "[engine][cancel]") {
    cancel_rig c;
    c.rig.store_now(bare_cancel("q1"));
    c.board.cancel("q1", "cancel requested: not wanted");
    // Both ways in: the consumer's inline path must not run it either (echo runs inline).
    auto t1 = c.rig.submit(task_of("q1", "count", "1"));
    REQUIRE(c.rig.settler.await_count(1));
    REQUIRE(c.rig.eng->finish(5s));
    CHECK(c.rig.settler.acks_of(t1) == 1);
    CHECK(c.rig.handlers.run_count() == 0);
    auto rec = c.rig.stored("q1");
    CHECK(rec.status == task_status::cancelled);
    CHECK(rec.error == "cancel requested: not wanted");
    CHECK(rec.type == "count");  // filled in from the message
    CHECK(c.board.pending_count() == 0);

    c.rig.store_now(bare_cancel("q2"));
    c.board.cancel("q2", "cancel requested: not wanted");
    auto t2 = c.rig.collect(task_of("q2", "echo", "2"));
    c.rig.eng->flush();
    REQUIRE(c.rig.settler.await_count(2));
    REQUIRE(c.rig.eng->finish(5s));
    CHECK(c.rig.settler.acks_of(t2) == 1);
    CHECK(c.rig.stored("q2").status == task_status::cancelled);
}

TEST_CASE("a pending cancel whose record says otherwise is dropped and the task runs", "[engine][cancel]") {
    cancel_rig c;
    c.board.cancel("reused", "cancel requested");  // heard, but no record holds it (id reused, or settled)
    auto tag = c.rig.submit(task_of("reused", "count", "7"));
    REQUIRE(c.rig.settler.await_count(1));
    REQUIRE(c.rig.eng->finish(5s));
    CHECK(c.rig.settler.acks_of(tag) == 1);
    CHECK(c.rig.handlers.run_count() == 1);
    CHECK(c.rig.stored("reused").status == task_status::done);
    CHECK_FALSE(c.board.pending("reused"));
}
