// Which broker URL a session tries next, per failover strategy (failover.hpp), without a
// broker: the session only ever asks current() and reports failed() / lost() / connected().
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <set>
#include <vector>

#include "pfo3/core/error.hpp"
#include "url_rotation.hpp"

using pfo3::queue::failover_order;
using pfo3::queue::parse_failover_order;
using pfo3::queue::detail::url_rotation;

namespace {

// The URLs tried by `n` failed connects in a row, and whether each ended a round.
std::vector<std::size_t> fail_n(url_rotation& r, int n, std::vector<bool>* rounds = nullptr) {
    std::vector<std::size_t> tried;
    for (int i = 0; i < n; ++i) {
        tried.push_back(r.current());
        const bool round = r.failed();
        if (rounds) rounds->push_back(round);
    }
    return tried;
}

}  // namespace

TEST_CASE("round-robin tries the URLs in order and, after a loss, the one after the URL lost",
          "[failover]") {
    url_rotation r(3, failover_order::round_robin, 42);
    std::vector<bool> rounds;
    CHECK(fail_n(r, 6, &rounds) == std::vector<std::size_t>{0, 1, 2, 0, 1, 2});
    // A backoff only once every URL failed in a round.
    CHECK(rounds == std::vector<bool>{false, false, true, false, false, true});
    CHECK(r.current() == 0);
    r.failed();
    r.connected();  // up on URL 1
    REQUIRE(r.current() == 1);
    r.lost();
    CHECK(r.current() == 2);
    r.connected();
    r.lost();
    CHECK(r.current() == 0);  // wraps
    // A round after a loss counts from there: 0, 1, 2 fail, then the backoff.
    rounds.clear();
    CHECK(fail_n(r, 3, &rounds) == std::vector<std::size_t>{0, 1, 2});
    CHECK(rounds == std::vector<bool>{false, false, true});
}

TEST_CASE("in-order goes back to the first URL after a loss, unless the first was lost", "[failover]") {
    url_rotation r(3, failover_order::in_order, 42);
    CHECK(fail_n(r, 3) == std::vector<std::size_t>{0, 1, 2});
    REQUIRE(r.current() == 0);  // a new round starts from the first
    r.connected();              // up on the preferred URL 0, and it is lost: not 0 again at once
    r.lost();
    CHECK(r.current() == 1);
    r.failed();
    r.connected();  // up on 2
    r.lost();
    CHECK(r.current() == 0);  // back to the preferred URL
    // After a full failed round, always from the first again.
    std::vector<bool> rounds;
    CHECK(fail_n(r, 3, &rounds) == std::vector<std::size_t>{0, 1, 2});
    CHECK(rounds.back());
    CHECK(r.current() == 0);
}

TEST_CASE("shuffle tries every URL once per round, in orders that differ between processes and rounds",
          "[failover]") {
    std::set<std::vector<std::size_t>> first_rounds;
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        url_rotation r(4, failover_order::shuffle, seed * 7919);
        std::vector<bool> rounds;
        auto tried = fail_n(r, 8, &rounds);
        std::vector<std::size_t> a(tried.begin(), tried.begin() + 4), b(tried.begin() + 4, tried.end());
        first_rounds.insert(a);
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        CHECK(a == std::vector<std::size_t>{0, 1, 2, 3});  // each URL once per round
        CHECK(b == std::vector<std::size_t>{0, 1, 2, 3});
        CHECK(rounds == std::vector<bool>{false, false, false, true, false, false, false, true});
    }
    // 40 seeds over 24 orders: far more than one order (a fixed order would spread no load).
    CHECK(first_rounds.size() >= 10);
}

TEST_CASE("one URL: every failure is a round, and a loss retries the same URL", "[failover]") {
    url_rotation r(1, failover_order::round_robin, 1);
    CHECK(r.failed());
    CHECK(r.current() == 0);
    r.connected();
    r.lost();
    CHECK(r.current() == 0);
    url_rotation s(1, failover_order::in_order, 1);
    s.lost();
    CHECK(s.current() == 0);
}

TEST_CASE("failover strategies are parsed by name, anything else is a config error", "[failover]") {
    CHECK(parse_failover_order("round-robin") == failover_order::round_robin);
    CHECK(parse_failover_order("shuffle") == failover_order::shuffle);
    CHECK(parse_failover_order("in-order") == failover_order::in_order);
    CHECK_THROWS_AS(parse_failover_order("random"), pfo3::config_error);
}
