// A clean shutdown costs no task an attempt, and crash loops on quorum queues end after
// delivery_limit - 1 dead workers (crash_loop.cpp, engine::close_intake; decision 0013).
#include <fstream>

#include "worker_harness.hpp"

using namespace worker_test;
using pfo3::task_status;

namespace {

// "slow" waits until the test creates `gate`, so the test knows what has started.
struct slow_handlers {
    temp_dir scratch;
    fs::path runs = scratch.path / "runs";
    fs::path gate = scratch.path / "gate";
    pfo3::handlers::registry registry{{
        {"slow",
         {{"/bin/sh", "-c",
           "echo run >> '" + runs.string() + "'; while [ ! -e '" + gate.string() + "' ]; do sleep 0.05; done; cat"},
          std::chrono::seconds(20)}},
        {"count", {{"/bin/sh", "-c", "echo run >> '" + runs.string() + "'; cat"}, std::chrono::seconds(20)}},
    }};
    std::size_t run_count() const { return line_count(runs); }
};

using slow_rig = engine_rig<slow_handlers>;

pfo3::worker::engine_options quorum_options(int delivery_limit) {
    auto o = options(1, 16);
    o.max_attempts = 10;
    o.topo.queue_type = "quorum";
    o.topo.delivery_limit = delivery_limit;
    return o;
}

}  // namespace

TEST_CASE("a clean shutdown hands unstarted tasks back as fresh copies, never as interrupted attempts",
          "[engine][shutdown]") {
    slow_rig r(options(1, 16));
    const auto running = r.submit(delivery_of(task_of("s1", "slow", "1")));
    const auto waiting1 = r.submit(delivery_of(task_of("s2", "slow", "2")));
    const auto waiting2 = r.submit(delivery_of(task_of("s3", "slow", "3", 2)));
    for (int i = 0; i < 400 && r.handlers.run_count() == 0; ++i) std::this_thread::sleep_for(25ms);
    REQUIRE(r.handlers.run_count() == 1);  // s1 runs; s2 and s3 wait for the one handler thread
    r.eng->close_intake();
    // The unstarted ones: an unchanged copy each to the task queue, then the original acked. A
    // nack with requeue would come back `redelivered` and be counted as an attempt.
    auto sent = r.sink.messages();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].routing_key == "tasks");
    CHECK(sent[0].message_id == "s2");
    CHECK(sent[0].body == pfo3::json::encode_message(task_of("s2", "slow", "2")));
    CHECK(sent[1].message_id == "s3");
    CHECK(sent[1].body == pfo3::json::encode_message(task_of("s3", "slow", "3", 2)));  // attempt 2 stays 2
    CHECK(r.settler.acks_of(waiting1) == 1);
    CHECK(r.settler.acks_of(waiting2) == 1);
    // The running one finishes within the grace period, stored as attempt 1.
    { std::ofstream(r.handlers.gate.string()) << "go"; }
    REQUIRE(r.eng->finish(20s));
    CHECK(r.settler.acks_of(running) == 1);
    CHECK(r.store.read("s1")->attempts == 1);
    CHECK_FALSE(r.store.read("s2").has_value());
    CHECK(r.handlers.run_count() == 1);
}

TEST_CASE("quorum: a task that killed delivery_limit - 1 workers is stored dead and dead-lettered, not run",
          "[engine][redelivery][crash_loop]") {
    slow_rig r(quorum_options(4));
    auto d = delivery_of(task_of("loop", "count", "1"), /*redelivered*/ true);
    d.delivery_count = 3;  // three deliveries before this one ended with their worker dead
    const auto tag = r.submit(std::move(d));
    REQUIRE(r.settler.await_count(1));
    REQUIRE(r.eng->finish(10s));
    CHECK(r.settler.acks_of(tag) == 1);
    CHECK(r.handlers.run_count() == 0);
    const auto rec = *r.store.read("loop");
    CHECK(rec.status == task_status::dead);
    CHECK(rec.attempts == 3);
    CHECK(rec.error.find("killed its worker") != std::string::npos);
    CHECK(rec.error.find("amqp.delivery_limit is 4") != std::string::npos);
    const auto sent = r.sink.messages();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].routing_key == "tasks.dead");
    CHECK(sent[0].body.find("killed its worker") != std::string::npos);
}

TEST_CASE("quorum: below the delivery limit a redelivered task runs in place, its interrupted deliveries counted",
          "[engine][redelivery][crash_loop]") {
    slow_rig r(quorum_options(4));
    auto d = delivery_of(task_of("again", "count", "7"), /*redelivered*/ true);
    d.delivery_count = 2;
    const auto tag = r.submit(std::move(d));
    REQUIRE(r.settler.await_count(1));
    REQUIRE(r.eng->finish(10s));
    CHECK(r.settler.acks_of(tag) == 1);
    CHECK(r.handlers.run_count() == 1);
    CHECK(r.sink.messages().empty());  // no republish: the broker keeps the count
    const auto rec = *r.store.read("again");
    CHECK(rec.status == task_status::done);
    CHECK(rec.attempts == 3);
}
