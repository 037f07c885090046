#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "pfo3/ops/process_cpu.hpp"

using namespace pfo3::ops;

TEST_CASE("a stat line is read from the last parenthesis, whatever the command name holds") {
    const std::string line =
        "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 75 30 12 20 0 1 0 5000 1000 200";
    auto s = parse_proc_stat(line);
    REQUIRE(s);
    CHECK(s->pid == 4242);
    CHECK(s->ppid == 17);
    CHECK(s->utime == 250);
    CHECK(s->stime == 75);
    CHECK(s->cutime == 30);
    CHECK(s->cstime == 12);
}

TEST_CASE("what is not a stat line is refused") {
    CHECK_FALSE(parse_proc_stat(""));
    CHECK_FALSE(parse_proc_stat("garbage"));
    CHECK_FALSE(parse_proc_stat("12 (x) S 1 2 3"));                                      // too short
    CHECK_FALSE(parse_proc_stat("x2 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"));     // pid
    CHECK_FALSE(parse_proc_stat("12 (x) S 1 2 3 4 5 6 7 8 9 10 -1 12 13 14 15 16"));     // utime < 0
    CHECK_FALSE(parse_proc_stat("12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 -13 14 15 16"));    // cutime < 0
}

TEST_CASE("this process's own stat line parses") {
    std::ifstream in("/proc/self/stat");
    std::string line;
    REQUIRE(std::getline(in, line));
    auto s = parse_proc_stat(line);
    REQUIRE(s);
    CHECK(s->pid == ::getpid());
    CHECK(s->ppid == ::getppid());
}

namespace {
double own_cpu_seconds() {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}
}  // namespace

namespace {
// This machine's process table now; the test fails if /proc cannot be read.
process_table now() {
    std::string error;
    auto table = read_process_table(error);
    INFO(error);
    REQUIRE(table);
    return *table;
}

proc_stat entry(int pid, int ppid, std::uint64_t own, std::uint64_t reaped) {
    return {pid, ppid, own, 0, reaped, 0};
}
}  // namespace

TEST_CASE("a tree is the process, everything below it and what they reaped, nothing beside it") {
    const process_table table{{1, entry(1, 0, 1000, 0)},  {10, entry(10, 1, 100, 50)},
                              {11, entry(11, 10, 20, 0)}, {12, entry(12, 10, 5, 1)},
                              {13, entry(13, 12, 2, 0)},  {20, entry(20, 1, 700, 300)}};
    const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
    CHECK(cpu_seconds_of_tree(table, 10).value_or(-1) == Approx((100 + 50 + 20 + 5 + 1 + 2) / hz));
    CHECK(cpu_seconds_of_tree(table, 12).value_or(-1) == Approx((5 + 1 + 2) / hz));
    CHECK(cpu_seconds_of_tree(table, 13).value_or(-1) == Approx(2 / hz));
    CHECK_FALSE(cpu_seconds_of_tree(table, 99));
}

TEST_CASE("a tree's CPU includes a live child's and, once reaped, a dead one's") {
    const auto before = cpu_seconds_of_tree(now(), ::getpid());
    REQUIRE(before);
    int ready[2], release[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(release) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(ready[0]);
        ::close(release[1]);  // else the read below never sees the parent close its end
        // Burn 0.4 s of CPU, say so, and wait to be told to end.
        volatile unsigned long sink = 0;
        while (own_cpu_seconds() < 0.4) sink = sink + 1;
        char c = 'x';
        if (::write(ready[1], &c, 1) != 1) ::_exit(2);
        (void)::read(release[0], &c, 1);
        ::_exit(0);
    }
    ::close(ready[1]);
    ::close(release[0]);
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);  // the child has used its 0.4 s; this one waited
    const auto table = now();
    const auto with_child = cpu_seconds_of_tree(table, ::getpid());
    const auto child_alone = cpu_seconds_of_tree(table, child);
    REQUIRE(with_child);
    REQUIRE(child_alone);
    CHECK(*child_alone >= 0.35);
    CHECK(*with_child - *before >= 0.35);

    ::close(release[1]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    const auto after = cpu_seconds_of_tree(now(), ::getpid());
    REQUIRE(after);
    CHECK(*after - *before >= 0.35);  // now in this process's cutime
    ::close(ready[0]);
}

TEST_CASE("a pid that is not a process has no CPU figure, not zero") {
    const auto table = now();
    CHECK(table.contains(::getpid()));
    CHECK_FALSE(cpu_seconds_of_tree(table, 0));
    // pid_max is at most 2^22: this one cannot exist.
    CHECK_FALSE(cpu_seconds_of_tree(table, 1 << 23));
}
