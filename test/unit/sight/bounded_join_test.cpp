#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "bounded_join.hpp"

using namespace std::chrono_literals;
using pfo3::sight::join_within;
using pfo3::sight::signalling_end;

namespace {

struct state {
    std::mutex mu;
    std::condition_variable wake;
    bool finished = false;
};

}  // namespace

TEST_CASE("a thread that ends within the grace is joined, its locals gone", "[bounded_join]") {
    auto st = std::make_shared<state>();
    auto destroyed = std::make_shared<std::atomic<bool>>(false);
    struct local {
        std::shared_ptr<std::atomic<bool>> flag;
        ~local() { *flag = true; }
    };
    std::thread t(signalling_end(st, [destroyed] { local l{destroyed}; }));

    join_within(t, *st, 30s);

    CHECK_FALSE(t.joinable());
    CHECK(destroyed->load());  // the end is signalled only after the body's locals are gone
}

TEST_CASE("a stuck thread is let go after the grace and finishes on its own", "[bounded_join]") {
    auto st = std::make_shared<state>();
    auto gate = std::make_shared<std::atomic<bool>>(false);
    std::thread t(signalling_end(st, [gate] {
        while (!gate->load()) std::this_thread::sleep_for(1ms);
    }));

    const auto started = std::chrono::steady_clock::now();
    join_within(t, *st, 50ms);

    CHECK(std::chrono::steady_clock::now() - started >= 50ms);
    CHECK_FALSE(t.joinable());  // detached
    *gate = true;
    std::unique_lock lk(st->mu);
    CHECK(st->wake.wait_for(lk, 30s, [&] { return st->finished; }));
}
