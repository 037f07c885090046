// The two renderings of a report: the table people read and the JSON scripts read
// (docs/benchmarks.md documents both).
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "figures.hpp"
#include "pfo3/json/message.hpp"
#include "report.hpp"

using namespace pfo3::bench;

namespace {

latency_summary latencies(std::int64_t from_ms, std::int64_t to_ms) {
    std::vector<std::int64_t> ns;
    for (auto i = from_ms; i <= to_ms; ++i) ns.push_back(i * 1000000);
    return summarize_latency(ns);
}

// A closed-loop run of 300 tasks, results seen by inotify, serve and one worker measured.
bench_report closed_loop() {
    bench_report r;
    r.label = "smoke";
    r.started_at = "2026-01-02T03:04:05.000Z";
    r.host = "h";
    r.server = "127.0.0.1:5000";
    r.type = "echo";
    r.tasks = 300;
    r.connections = 3;
    r.window = 8;
    r.payload_bytes = 56;
    r.request_bytes = 83;
    r.results_source = "inotify";
    r.store = "file:///tmp/r";
    r.accepted = 298;
    r.rejected = 2;
    r.errors = {{"overloaded", 2}};
    r.accept_seconds = 0.5;
    r.submit_to_ok = latencies(1, 100);
    r.stored = 298;
    r.end_to_end_seconds = 1;
    r.submit_to_stored = latencies(2, 200);
    r.memory = {{"serve", 10, 2048, 1024, {}}, {"work", 11, -1, -1, "no process 11 on this machine"}};
    r.cpu = {{"serve", 10, 0.0298, {}}, {"work", 11, -1, "no process 11 on this machine"}, {"bench", 12, 0.0596, {}}};
    r.cpu_wall_seconds = 0.5;
    return r;
}

// The broker alone as fast as it went: 1000 messages, publish 0.5 s, consume 0.25 s, both 1 s.
void add_broker_closed_loop(bench_report& r) {
    r.broker.emplace();
    r.broker->queue = "pfo3.bench.x";
    r.broker->messages = 1000;
    r.broker->publish_seconds = 0.5;
    r.broker->consume_seconds = 0.25;
    r.broker->pipeline_seconds = 1;
    r.broker_window = 64;
    r.broker_prefetch = 256;
    r.broker_body_bytes = 180;
}

std::string table(const bench_report& r) {
    std::ostringstream o;
    print_report(o, r);
    return o.str();
}

std::string json_of(const bench_report& r) {
    std::ostringstream o;
    write_report_json(o, r);
    return o.str();
}

}  // namespace

TEST_CASE("the table of a closed-loop run, line by line") {
    CHECK(table(closed_loop()) ==
          "pfo3 bench [smoke]: 300 x echo tasks (83-byte requests), 3 connections, window 8, closed loop, server "
          "127.0.0.1:5000\n"
          "  accepted            298 in 0.500 s = 596 tasks/s\n"
          "  stored (end to end) 298 in 1.000 s = 298 tasks/s  (seen by inotify)\n"
          "  rejected            2  overloaded=2\n"
          "  latency (ms)             p50       p90       p99     p99.9       max\n"
          "  submit -> ok          50.000    90.000    99.000   100.000   100.000   (100 samples)\n"
          "  submit -> stored     101.000   181.000   199.000   200.000   200.000   (199 samples)\n"
          "  CPU per accepted task (user + system, 0.500 s from first submit to last result)\n"
          "    serve      pid 10           100.0 us  (0.03 s)\n"
          "    work       pid 11         unknown (no process 11 on this machine)\n"
          "    bench      pid 12           200.0 us  (0.06 s)\n"
          "    total                300.0 us = 0.18 cores busy on average\n"
          "  peak RSS serve pid 10: 2.0 MiB (now 1.0 MiB)\n"
          "  peak RSS work pid 11: unknown (no process 11 on this machine)\n");
}

TEST_CASE("the table of an open-loop run puts the broker's latencies beside pfo3's") {
    auto r = closed_loop();
    r.rate = 1000;
    r.cpu.clear();
    r.memory.clear();
    r.missing = 3;
    r.failures = {"waiting for results: boom"};
    r.broker.emplace();
    r.broker->messages = 300;
    r.broker->pipeline_seconds = 0.3;
    r.broker->open_loop = true;
    r.broker->nacked = 1;
    r.broker_window = 16;
    r.broker_prefetch = 256;
    r.broker_body_bytes = 180;
    r.broker_to_confirm = latencies(1, 50);
    r.broker_to_delivered = latencies(1, 20);
    r.broker_cpu = {{"rabbitmq", 5, 0.03, {}}, {"bench", 12, 0.03, {}}};
    r.broker_cpu_wall_seconds = 0.3;
    const auto t = table(r);
    CHECK(t.find(", open loop at 1000 tasks/s, server") != std::string::npos);
    CHECK(t.find("  results missing     3\n") != std::string::npos);
    CHECK(t.find("  broker alone, open loop at 1000 msgs/s (300 msgs of 180 bytes, window 16, prefetch 256): "
                 "1000 msgs/s\n") != std::string::npos);
    CHECK(t.find("  publish -> confirm    25.000    45.000    50.000    50.000    50.000   (50 samples)\n") !=
          std::string::npos);
    CHECK(t.find("    p99: pfo3 submit -> ok = 1.98 x the broker's publish -> confirm\n") != std::string::npos);
    CHECK(t.find("    nacked 1, returned 0\n") != std::string::npos);
    // 300 messages carried once in open loop.
    CHECK(t.find("      rabbitmq   pid 5            100.0 us  (0.03 s)\n") != std::string::npos);
    CHECK(t.find("      total                200.0 us = 0.20 cores busy on average\n") != std::string::npos);
    CHECK(t.substr(t.size() - 37) == "  failure: waiting for results: boom\n");
}

TEST_CASE("the table of the broker alone, and of a broker that could not be measured") {
    bench_report r;
    r.broker_only = true;
    r.results_source = "none";
    add_broker_closed_loop(r);
    CHECK(table(r) ==
          "pfo3 bench: the broker alone\n"
          "  broker alone (1000 msgs of 180 bytes, window 64, prefetch 256)\n"
          "    publish with confirms  2000 msgs/s   pfo3 accepted = - x\n"
          "    consume + ack          4000 msgs/s\n"
          "    publish + consume      1000 msgs/s   pfo3 end to end = - x\n");

    r.broker.reset();
    r.broker_error = "connect to 127.0.0.1:1: refused";
    CHECK(table(r) == "pfo3 bench: the broker alone\n  broker alone: not measured: connect to 127.0.0.1:1: refused\n");
}

TEST_CASE("the JSON report is one valid object with every documented field, in order") {
    const auto j = json_of(closed_loop());
    REQUIRE(pfo3::json::is_valid_json(j));
    CHECK(j.back() == '\n');
    CHECK(j.find('\n') == j.size() - 1);
    std::size_t at = 0;
    for (const char* field : {"\"pfo3_bench\":1", "\"label\":\"smoke\"", "\"started_at\":", "\"host\":",
                              "\"config\":{\"server\":\"127.0.0.1:5000\"", "\"mode\":\"closed\"", "\"rate\":null",
                              "\"results_source\":\"inotify\"", "\"broker_only\":false}", "\"accepted\":298",
                              "\"rejected\":2", "\"errors\":{\"overloaded\":2}", "\"failures\":[]",
                              "\"accept_seconds\":0.5", "\"accepted_per_s\":596",
                              "\"end_to_end\":{\"stored\":298,\"missing\":0,\"seconds\":1,\"tasks_per_s\":298,"
                              "\"late_detection\":false}",
                              "\"latency_ms\":{\"submit_to_ok\":{\"count\":100,\"p50\":50,\"p90\":90,\"p99\":99,"
                              "\"p99_9\":100,\"max\":100,\"mean\":50.5,\"cdf\":[[1,0],",
                              "\"submit_to_stored\":{\"count\":199", "\"memory\":[{\"role\":\"serve\",\"pid\":10,"
                              "\"peak_rss_kib\":2048,\"rss_kib\":1024,\"error\":null},{\"role\":\"work\",\"pid\":11,"
                              "\"peak_rss_kib\":null,\"rss_kib\":null,\"error\":\"no process 11 on this machine\"}]",
                              "\"cpu\":{\"wall_seconds\":0.5,\"processes\":[{\"role\":\"serve\",\"pid\":10,"
                              "\"seconds\":0.0298,\"us_per_task\":100,\"error\":null}",
                              "{\"role\":\"work\",\"pid\":11,\"seconds\":null,\"us_per_task\":null,",
                              "\"total_us_per_task\":300,\"cores_busy\":0.1788}",
                              "\"broker_ceiling\":null,\"ratios\":null", "\"broker_error\":null}"}) {
        CAPTURE(field);
        const auto found = j.find(field, at);
        REQUIRE(found != std::string::npos);
        at = found;
    }
}

TEST_CASE("in JSON, figures that could not be computed are null, and text is escaped") {
    bench_report r;
    r.label = "a \"quoted\"\nlabel";
    r.results_source = "none";
    r.broker_only = true;
    r.broker_error = "no broker";
    const auto j = json_of(r);
    REQUIRE(pfo3::json::is_valid_json(j));
    CHECK(j.find("\"label\":\"a \\\"quoted\\\"\\nlabel\"") != std::string::npos);
    CHECK(j.find("\"accepted_per_s\":null") != std::string::npos);
    CHECK(j.find("\"end_to_end\":null") != std::string::npos);
    CHECK(j.find("\"submit_to_stored\":null") != std::string::npos);
    CHECK(j.find("\"cpu\":null") != std::string::npos);
    CHECK(j.find("\"broker_error\":\"no broker\"") != std::string::npos);
    CHECK(j.find("inf") == std::string::npos);
    CHECK(j.find("nan") == std::string::npos);
}

TEST_CASE("in JSON, the broker alone brings its figures and the ratios to pfo3's") {
    auto r = closed_loop();
    add_broker_closed_loop(r);
    const auto j = json_of(r);
    REQUIRE(pfo3::json::is_valid_json(j));
    CHECK(j.find("\"broker_ceiling\":{\"queue\":\"pfo3.bench.x\",\"messages\":1000,\"window\":64,\"prefetch\":256,"
                 "\"body_bytes\":180,\"publish_seconds\":0.5,\"consume_seconds\":0.25,\"publish_consume_seconds\":1,"
                 "\"publish_confirm_per_s\":2000,\"consume_per_s\":4000,\"publish_consume_per_s\":1000,\"nacked\":0,"
                 "\"returned\":0,\"open_loop\":false,\"messages_carried\":2000,\"cpu\":null,\"latency_ms\":null}") !=
          std::string::npos);
    CHECK(j.find("\"ratios\":{\"accepted_vs_publish_confirm\":0.298,\"end_to_end_vs_publish_consume\":0.298}") !=
          std::string::npos);
}
