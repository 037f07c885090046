#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "pfo3/metrics/registry.hpp"

using namespace pfo3::metrics;

TEST_CASE("counters, gauges and label escaping render in the Prometheus text format") {
    registry r;
    auto& a = r.add_counter("x_total", "Things.\nSecond line with \\.", {{"op", "submit"}});
    auto& b = r.add_counter("x_total", "ignored: the first help wins", {{"op", "we\"ird\\\n"}});
    auto& g = r.add_gauge("y", "A gauge.");
    a.inc();
    a.inc(2);
    b.inc();
    g.set(-5);
    CHECK(r.render() ==
          "# HELP x_total Things.\\nSecond line with \\\\.\n"
          "# TYPE x_total counter\n"
          "x_total{op=\"submit\"} 3\n"
          "x_total{op=\"we\\\"ird\\\\\\n\"} 1\n"
          "# HELP y A gauge.\n"
          "# TYPE y gauge\n"
          "y -5\n");
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, sum and count") {
    registry r;
    auto& h = r.add_histogram("lat_seconds", "Latency.", {0.1, 1}, {{"q", "a"}});
    h.observe(0.05);
    h.observe(0.1);  // on the bound: le is inclusive
    h.observe(0.5);
    h.observe(7);
    CHECK(r.render() ==
          "# HELP lat_seconds Latency.\n"
          "# TYPE lat_seconds histogram\n"
          "lat_seconds_bucket{q=\"a\",le=\"0.1\"} 2\n"
          "lat_seconds_bucket{q=\"a\",le=\"1\"} 3\n"
          "lat_seconds_bucket{q=\"a\",le=\"+Inf\"} 4\n"
          "lat_seconds_sum{q=\"a\"} 7.65\n"
          "lat_seconds_count{q=\"a\"} 4\n");
}

TEST_CASE("a callback family is computed at render time") {
    registry r;
    int calls = 0;
    r.add_callback("z", "Computed.", kind::gauge, [&](sample_writer& w) {
        ++calls;
        w.sample({{"k", "v"}}, 1.5);
    });
    CHECK(calls == 0);
    CHECK(r.render() == "# HELP z Computed.\n# TYPE z gauge\nz{k=\"v\"} 1.5\n");
    CHECK(calls == 1);
}

TEST_CASE("bad names, two types for one name and unsorted buckets are refused") {
    registry r;
    CHECK_THROWS(r.add_counter("9bad", "x"));
    CHECK_THROWS(r.add_counter("has space", "x"));
    r.add_counter("dup", "x");
    CHECK_THROWS(r.add_gauge("dup", "x"));
    CHECK_THROWS(r.add_histogram("h", "x", {1, 0.5}));
    CHECK_THROWS(r.add_histogram("h2", "x", {1, 1}));
}

TEST_CASE("values: integers without a fraction, special floats as Prometheus spells them") {
    CHECK(format_value(0) == "0");
    CHECK(format_value(12345678901.0) == "12345678901");
    CHECK(format_value(0.25) == "0.25");
    CHECK(format_value(1.0 / 0.0) == "+Inf");
    CHECK(format_value(-1.0 / 0.0) == "-Inf");
    CHECK(format_value(0.0 / 0.0) == "NaN");
}

TEST_CASE("concurrent increments are all counted") {
    registry r;
    auto& c = r.add_counter("n_total", "n");
    auto& h = r.add_histogram("h_seconds", "h", {1});
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < 100000; ++i) {
                c.inc();
                h.observe(0.5);
            }
        });
    for (auto& t : ts) t.join();
    CHECK(c.value() == 400000);
    CHECK(h.bucket(0) == 400000);
    CHECK(h.sum() == Approx(200000));
}
