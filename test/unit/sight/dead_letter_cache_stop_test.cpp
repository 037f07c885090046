// The status page's dead-letter cache asks serve's desk through a lister that refers to the
// desk; stop() must leave nothing that could call it once the desk is gone.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "pfo3/sight/dead_letter_cache.hpp"

using namespace pfo3;

TEST_CASE("a stopped dead-letter cache never asks again and has let go of its lister") {
    auto desk = std::make_shared<int>(0);  // stands for what the lister refers to
    std::weak_ptr<int> held = desk;
    sight::dead_letter_cache cache(
        [d = std::move(desk)](std::function<void(std::string)> done) {
            ++*d;
            done("{\"ok\":true,\"op\":\"dead_list\",\"letters\":[]}\n");
        },
        std::chrono::seconds(1));
    const auto t0 = std::chrono::steady_clock::now();
    cache.tick(t0);
    REQUIRE(!held.expired());
    CHECK(*held.lock() == 1);
    CHECK(cache.json() == "[]");
    cache.stop();
    CHECK(held.expired());  // the lister (and what it captured) is gone
    cache.tick(t0 + std::chrono::seconds(10));  // a period later: would ask, but stopped
    CHECK(cache.json() == "[]");
    cache.stop();  // idempotent
}
