// Server-made ids: UUIDv7 format and order, uniqueness across threads, and random bits that
// come fresh from the kernel for every id (nothing a copy of the process could repeat).
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pfo3/core/task_id.hpp"

using pfo3::make_task_id;

namespace {

// rand_b as text: the last two groups (the first digit holds the 2 variant bits).
std::string rand_b(const std::string& id) { return id.substr(19, 4) + id.substr(24); }

int hex_value(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

}  // namespace

TEST_CASE("ids made on many threads at once are all distinct and each thread's sort in order",
          "[task_id]") {
    constexpr int threads = 8;
    constexpr int per_thread = 5000;
    std::vector<std::vector<std::string>> made(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&made, t] {
            for (int i = 0; i < per_thread; ++i) made[t].push_back(make_task_id());
        });
    for (auto& w : workers) w.join();
    std::set<std::string> all;
    for (const auto& ids : made) {
        for (std::size_t i = 1; i < ids.size(); ++i) REQUIRE(ids[i - 1] < ids[i]);
        all.insert(ids.begin(), ids.end());
    }
    CHECK(all.size() == static_cast<std::size_t>(threads * per_thread));
}

TEST_CASE("the random bits of ids are evenly spread", "[task_id]") {
    // A stuck or missing source (zeros, a repeated block) shows up as bits far from one half.
    constexpr int n = 4000;
    std::array<int, 62> ones{};
    for (int i = 0; i < n; ++i) {
        const std::string bits = rand_b(make_task_id());
        REQUIRE(bits.size() == 16);
        // The first hex digit carries 2 random bits (after the variant), the others 4 each.
        int at = 0;
        for (std::size_t d = 0; d < bits.size(); ++d) {
            const int v = hex_value(bits[d]);
            for (int b = d == 0 ? 1 : 3; b >= 0; --b) ones[static_cast<std::size_t>(at++)] += (v >> b) & 1;
        }
        REQUIRE(at == 62);
    }
    for (int count : ones) {
        CHECK(count > n * 4 / 10);
        CHECK(count < n * 6 / 10);
    }
}

TEST_CASE("a forked copy of the process makes ids of its own, not the parent's next ones",
          "[task_id]") {
    // A generator whose state sits in memory (a seeded mt19937_64) hands the same "random"
    // bits to parent and child after fork(); bits read from the kernel for each id do not.
    (void)make_task_id();  // the calling thread's generator exists before the fork
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const std::string id = make_task_id();
        const auto written = write(fds[1], id.data(), id.size());
        _exit(written == static_cast<ssize_t>(id.size()) ? 0 : 1);
    }
    close(fds[1]);
    const std::string mine = make_task_id();
    std::string theirs(36, '\0');
    std::size_t got = 0;
    while (got < theirs.size()) {
        const auto n = read(fds[0], theirs.data() + got, theirs.size() - got);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    REQUIRE(got == theirs.size());
    CHECK(rand_b(mine) != rand_b(theirs));
}
