// --cpu-pids parsing, and CPU and memory read from /proc for real processes.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>

#include "pfo3/core/error.hpp"
#include "process_use.hpp"

using namespace pfo3::bench;

TEST_CASE("the --cpu-pids option takes NAME=PID entries") {
    const auto got = named_pids({"rabbitmq=123", "pg_16-main=4"});
    REQUIRE(got.size() == 2);
    CHECK(got[0].role == "rabbitmq");
    CHECK(got[0].pid == 123);
    CHECK(got[0].seconds == -1);
    CHECK(got[1].role == "pg_16-main");
    CHECK(got[1].pid == 4);
    CHECK(named_pids({}).empty());
}

TEST_CASE("a bad --cpu-pids entry is a usage error naming it") {
    for (const char* bad : {"x", "=12", "x=", "x=0", "x=-3", "x=12a", "X=12", "a b=1", "x=99999999999",
                            "abcdefghijklmnopqrstuvwxyz0123456=1"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(named_pids({bad}), pfo3::config_error);
        try {
            named_pids({"ok=1", bad});
        } catch (const pfo3::config_error& e) {
            CHECK(std::string(e.what()).find(std::string("'") + bad + "'") != std::string::npos);
        }
    }
}

TEST_CASE("the memory of this process is read from /proc, and a missing pid says so") {
    const auto self = read_process_memory("bench", static_cast<int>(::getpid()));
    CHECK(self.role == "bench");
    CHECK(self.error.empty());
    CHECK(self.peak_kib > 0);
    CHECK(self.current_kib > 0);
    CHECK(self.current_kib <= self.peak_kib);

    const auto gone = read_process_memory("work", 4194304);  // above any pid_max
    CHECK(gone.peak_kib == -1);
    CHECK(gone.error.find("no process 4194304") != std::string::npos);
}

TEST_CASE("the CPU meter charges this process what it spent, and a missing pid nothing") {
    std::vector<process_cpu_use> subjects = {{"bench", static_cast<int>(::getpid()), -1, {}},
                                             {"gone", 4194304, -1, {}}};
    cpu_meter meter(subjects);
    // Spin on CPU time itself, so the meter has something to see even on a loaded machine.
    const auto cpu_now = [] {
        timespec ts{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
    };
    const double start = cpu_now();
    while (cpu_now() - start < 0.1) {
    }
    const double wall = meter.finish();
    CHECK(wall >= 0.1);
    // /proc counts in clock ticks (10 ms): allow one tick either side.
    CHECK(subjects[0].seconds >= 0.09);
    CHECK(subjects[0].seconds <= wall + 0.02);
    CHECK(subjects[0].error.empty());
    CHECK(subjects[1].seconds == -1);
    CHECK(subjects[1].error == "no process 4194304 on this machine");
}
