#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pfo3/metrics/bounded_labels.hpp"
#include "pfo3/metrics/typed_counters.hpp"

using namespace pfo3::metrics;

TEST_CASE("the first `limit` values keep their slot, later ones share _other") {
    bounded_labels b(3);
    const auto a = b.slot("a"), bb = b.slot("b"), c = b.slot("c");
    CHECK(std::set<std::size_t>{a, bb, c}.size() == 3);
    CHECK(b.slot("a") == a);
    CHECK(b.slot("d") == b.other_slot());
    CHECK(b.slot("e") == b.other_slot());
    CHECK(b.slot("c") == c);
    CHECK(*b.value_at(a) == "a");
    CHECK(*b.value_at(b.other_slot()) == "_other");
    CHECK(b.size() == 3);
}

TEST_CASE("racing threads never hold more than the limit and agree on each value's slot") {
    bounded_labels b(100);
    std::vector<std::vector<std::size_t>> seen(4);
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < 5000; ++i) seen[static_cast<std::size_t>(t)].push_back(b.slot("type-" + std::to_string(i % 400)));
        });
    for (auto& t : ts) t.join();
    CHECK(b.size() == 100);
    std::size_t held = 0;
    for (std::size_t s = 0; s < b.other_slot(); ++s) held += b.value_at(s) != nullptr;
    CHECK(held == 100);
    for (std::size_t i = 0; i < 5000; ++i)
        for (int t = 1; t < 4; ++t) CHECK(seen[static_cast<std::size_t>(t)][i] == seen[0][i]);
}

TEST_CASE("typed counters: 10 000 random types render at most limit + 1 type values") {
    registry r;
    bounded_labels types(100);
    typed_counters f(r, "t_total", "By type.", types, "outcome", {"done", "dead"});
    for (int i = 0; i < 10000; ++i) f.inc("random-" + std::to_string(i * 7919 % 100003), static_cast<std::size_t>(i % 2));
    const std::string text = r.render();
    std::set<std::string> values;
    std::size_t pos = 0;
    double total = 0;
    while ((pos = text.find("t_total{type=\"", pos)) != std::string::npos) {
        pos += 14;
        values.insert(text.substr(pos, text.find('"', pos) - pos));
        total += std::stod(text.substr(text.find("} ", pos) + 2));
    }
    CHECK(values.size() == 101);
    CHECK(values.count("_other") == 1);
    CHECK(total == 10000);
    CHECK(f.value("never-seen", 0) == f.value("_other-by-another-name", 0));  // both _other now
}
