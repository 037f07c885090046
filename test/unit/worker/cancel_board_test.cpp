#include <catch2/catch.hpp>

#include <chrono>

#include "pfo3/worker/cancel_board.hpp"

using namespace std::chrono_literals;
using pfo3::worker::cancel_board;

TEST_CASE("a cancel board remembers pending cancels until they are forgotten") {
    cancel_board b(10, 1s);
    CHECK_FALSE(b.pending("a"));
    b.cancel("a", "cancel requested: x");
    b.cancel("a", "cancel requested: again");
    CHECK(b.pending("a"));
    CHECK_FALSE(b.pending("b"));
    CHECK(b.pending_count() == 1);
    b.forget("a");
    CHECK_FALSE(b.pending("a"));
    CHECK(b.pending_count() == 0);
    b.forget("never");  // nothing to forget is no error
}

TEST_CASE("a cancel board forgets the oldest pending cancels past its bound") {
    cancel_board b(3, 1s);
    for (const char* id : {"a", "b", "c", "d", "e"}) b.cancel(id, "cancel requested");
    CHECK(b.pending_count() == 3);
    CHECK_FALSE(b.pending("a"));
    CHECK_FALSE(b.pending("b"));
    CHECK(b.pending("c"));
    CHECK(b.pending("e"));
    b.forget("c");  // forgetting out of order keeps the age order of the rest
    b.cancel("f", "cancel requested");
    b.cancel("g", "cancel requested");
    CHECK(b.pending_count() == 3);
    CHECK_FALSE(b.pending("d"));
    CHECK(b.pending("e"));
    CHECK(b.pending("g"));
}

TEST_CASE("a cancel stops the runs of its id in hand, and only those") {
    cancel_board b(10, 2s);
    cancel_board::run_ticket mine(b, "run-1");
    cancel_board::run_ticket other(b, "run-2");
    REQUIRE(mine.stop() != nullptr);
    CHECK(mine.stop()->grace() == 2s);
    b.cancel("run-1", "cancel requested: stop it");
    CHECK(mine.stop()->requested());
    CHECK(mine.stop()->why() == "cancel requested: stop it");
    CHECK_FALSE(other.stop()->requested());
}

TEST_CASE("a run that starts after its cancel was heard is stopped at once, and its end forgets the cancel") {
    cancel_board b(10, 1s);
    b.cancel("late", "cancel requested: heard first");
    {
        cancel_board::run_ticket t(b, "late");
        CHECK(t.stop()->requested());
        CHECK(t.stop()->why() == "cancel requested: heard first");
    }
    CHECK_FALSE(b.pending("late"));
}

TEST_CASE("a run that ends without a cancel leaves the pending set alone") {
    cancel_board b(10, 1s);
    b.cancel("other", "cancel requested");
    { cancel_board::run_ticket t(b, "plain"); }
    CHECK(b.pending("other"));
}
