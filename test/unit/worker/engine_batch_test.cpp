// The consumer thread's path into the engine: collect() runs built-ins that answer at once on
// the calling thread and batches the rest; flush() hands a batch over. Records must be what
// the handler threads would have stored, and delivery semantics must not change.
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "worker_harness.hpp"

using namespace worker_test;
using pfo3::task_status;
using pfo3::worker::delivery_guard;

namespace {

// "gated" blocks its handler thread until the test opens the gate; "count" counts its runs.
struct gated_handlers {
    temp_dir dir;
    fs::path gate = dir.path / "gate";
    fs::path runs = dir.path / "runs";
    pfo3::handlers::registry registry{{
        {"gated", {{"/bin/sh", "-c", "while [ ! -e '" + gate.string() + "' ]; do sleep 0.05; done; cat"},
                   std::chrono::seconds(60)}},
        {"count", {{"/bin/sh", "-c", "echo run >> '" + runs.string() + "'; cat"}, std::chrono::seconds(20)}},
    }};
    void open_gate() const { std::ofstream(gate) << "open"; }
    std::size_t run_count() const { return line_count(runs); }
};

using batch_rig = engine_rig<gated_handlers>;

std::vector<pfo3::task> builtin_tasks(const std::string& prefix) {
    std::vector<pfo3::task> ts = {
        task_of(prefix + "echo", "echo", R"({"a":[1,{"b":"ñ"}],"c":null})"),
        task_of(prefix + "sum", "sum", "[1,2,3.5]"),
        task_of(prefix + "sumar", "sumar", "[1,2,3]"),
        task_of(prefix + "multiply", "multiply", "[2,3,4]"),
        task_of(prefix + "multiplicar", "multiplicar", "[9223372036854775807,2]"),
        task_of(prefix + "retry", "echo", "\"again\"", 2),
    };
    ts.back().requeues = 1;
    ts.back().max_attempts = 4;
    return ts;
}

}  // namespace

TEST_CASE("built-ins run inline store the records the handler threads store", "[engine][batch]") {
    batch_rig threads, inline_;
    const auto ts = builtin_tasks("");
    for (const auto& t : ts) threads.submit(t);
    for (const auto& t : ts) inline_.collect(t);
    inline_.eng->flush();
    REQUIRE(threads.settler.await_count(ts.size()));
    REQUIRE(inline_.settler.await_count(ts.size()));
    REQUIRE(inline_.eng->finish(5s));
    for (const auto& t : ts) {
        INFO("task " << t.id);
        const auto a = threads.stored(t.id), b = inline_.stored(t.id);
        CHECK(b.id == a.id);
        CHECK(b.type == a.type);
        CHECK(b.payload_json == a.payload_json);
        CHECK(b.status == a.status);
        CHECK(b.result_json == a.result_json);
        CHECK(b.error == a.error);
        CHECK(b.attempts == a.attempts);
        CHECK(b.worker == a.worker);
        CHECK(b.submitted_at == a.submitted_at);
        CHECK(b.requeues == a.requeues);
        CHECK(b.started_at.size() == 24);
        CHECK(b.started_at <= b.finished_at);
    }
    for (const auto& s : inline_.settler.all()) CHECK(s.ack);
    CHECK(inline_.sink.messages().empty());
}

TEST_CASE("collect hands nothing over before flush, and a full batch by itself", "[engine][batch]") {
    batch_rig r;
    auto tag = r.collect(task_of("held", "echo", "1"));
    auto other = r.collect(task_of("held-count", "count", "1"));
    // Nothing has left the calling thread: no write, no handler run, nothing settled.
    CHECK(r.store.writes == 0);
    CHECK(r.settler.all().empty());
    r.eng->flush();
    REQUIRE(r.settler.await_count(2));
    CHECK(r.settler.acks_of(tag) == 1);
    CHECK(r.settler.acks_of(other) == 1);
    CHECK(r.handlers.run_count() == 1);

    // 128 deliveries make a full batch: handed over without a flush.
    for (int i = 0; i < 128; ++i) r.collect(task_of("full" + std::to_string(i), "echo", std::to_string(i)));
    REQUIRE(r.settler.await_count(2 + 128));
    REQUIRE(r.eng->finish(5s));
    CHECK(r.stored("full127").result_json == "127");
}

TEST_CASE("an inline built-in does not wait for busy handler threads", "[engine][batch]") {
    batch_rig r(options(1, 16));  // one handler thread, held by the gated task
    auto gated = r.collect(task_of("g", "gated", "1"));
    r.eng->flush();
    auto quick = r.collect(task_of("q", "echo", "\"now\""));
    r.eng->flush();
    REQUIRE(r.settler.await_count(1));
    CHECK(r.settler.acks_of(quick) == 1);  // stored and acked while the only thread is busy
    CHECK(r.settler.acks_of(gated) == 0);
    r.handlers.open_gate();
    REQUIRE(r.settler.await_count(2));
    REQUIRE(r.eng->finish(5s));
    CHECK(r.stored("g").result_json == "1");
}

TEST_CASE("collected tasks that cannot end inline go the handler threads' way", "[engine][batch]") {
    batch_rig r;
    SECTION("a built-in that refuses its payload is dead-lettered") {
        auto tag = r.collect(task_of("bad-sum", "sum", "\"x\""));
        r.eng->flush();
        REQUIRE(r.settler.await_count(1));
        REQUIRE(r.eng->finish(5s));
        CHECK(r.settler.acks_of(tag) == 1);
        REQUIRE(r.sink.messages().size() == 1);
        CHECK(r.sink.messages()[0].routing_key == "tasks.dead");
        CHECK(r.stored("bad-sum").status == task_status::dead);
    }
    SECTION("a redelivered echo is checked against the store first") {
        auto t = task_of("again", "echo", "1");
        auto done = pfo3::task_record{};
        done.id = t.id;
        done.type = t.type;
        done.result_json = "\"stored before\"";
        r.store.write(std::span<const pfo3::task_record>(&done, 1));
        auto tag = r.collect(t, /*redelivered=*/true);
        r.eng->flush();
        REQUIRE(r.settler.await_count(1));
        REQUIRE(r.eng->finish(5s));
        CHECK(r.settler.acks_of(tag) == 1);
        CHECK(r.stored("again").result_json == "\"stored before\"");
    }
    SECTION("an undecodable body is dead-lettered") {
        pfo3::queue::delivery d;
        d.tag = 4242;
        d.body = "{not json";
        d.message_id = "u2";
        d.type = "echo";
        r.eng->collect(delivery_guard(std::move(d), r.settler));
        r.eng->flush();
        REQUIRE(r.settler.await_count(1));
        REQUIRE(r.eng->finish(5s));
        CHECK(r.settler.acks_of(4242) == 1);
        CHECK(r.stored("u2").status == task_status::dead);
    }
    SECTION("external handlers run on the handler threads, a batch of them at once") {
        std::vector<std::uint64_t> tags;
        for (int i = 0; i < 5; ++i) tags.push_back(r.collect(task_of("c" + std::to_string(i), "count", "1")));
        r.eng->flush();
        REQUIRE(r.settler.await_count(5));
        REQUIRE(r.eng->finish(5s));
        for (auto tag : tags) CHECK(r.settler.acks_of(tag) == 1);
        CHECK(r.handlers.run_count() == 5);
    }
}

TEST_CASE("a batch flushed after intake closed is handed back as fresh copies, none of it stored",
          "[engine][batch][shutdown]") {
    batch_rig r;
    r.collect(task_of("late-echo", "echo", "1"));
    r.collect(task_of("late-count", "count", "1"));
    r.eng->close_intake();
    r.eng->flush();
    REQUIRE(r.eng->finish(5s));
    // Each original is acked once its unchanged copy went back to the task queue (confirmed),
    // so the next worker does not count a clean shutdown as an attempt (issue 15).
    auto all = r.settler.all();
    REQUIRE(all.size() == 2);
    for (auto& s : all) CHECK(s.ack);
    auto copies = r.sink.messages();
    REQUIRE(copies.size() == 2);
    std::set<std::string> ids;
    for (auto& m : copies) {
        CHECK(m.routing_key == options().topo.queue);
        ids.insert(m.message_id);
    }
    CHECK(ids == std::set<std::string>{"late-echo", "late-count"});
    CHECK_FALSE(r.store.read("late-echo").has_value());
    CHECK(r.handlers.run_count() == 0);
}
