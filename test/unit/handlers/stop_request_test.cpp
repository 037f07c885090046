#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <future>
#include <string>
#include <thread>

#include "pfo3/handlers/registry.hpp"
#include "pfo3/handlers/stop_request.hpp"
#include "pfo3_test/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using pfo3::handlers::external_command;
using pfo3::handlers::outcome;
using pfo3::handlers::registry;
using pfo3::handlers::stop_request;

namespace {

pfo3::task task_of(const std::string& type) {
    pfo3::task t;
    t.id = "cancel-me";
    t.type = type;
    return t;
}

// Waits for `p` to hold a pid (the script writes it once started).
pid_t wait_pid(const fs::path& p) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        std::ifstream f(p);
        pid_t pid = 0;
        if (f >> pid && pid > 0) return pid;
        std::this_thread::sleep_for(10ms);
    }
    return 0;
}

// The process group holds no process that is not a zombie (kill(-pgid, 0) also counts
// zombies, which nobody may reap in a container, so /proc is read).
bool group_gone(pid_t pgid) {
    for (const auto& e : fs::directory_iterator("/proc")) {
        const auto name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(e.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        long ppid = 0, pgrp = 0;
        std::istringstream rest(line.substr(close + 2));
        rest >> state >> ppid >> pgrp;
        if (pgrp == pgid && state != 'Z') return false;
    }
    return true;
}

}  // namespace

TEST_CASE("a stop request is readable on its descriptor once requested, and keeps the first reason") {
    stop_request s(100ms);
    pollfd p{s.fd(), POLLIN, 0};
    CHECK(::poll(&p, 1, 0) == 0);
    CHECK_FALSE(s.requested());
    s.request("cancel requested: first");
    s.request("cancel requested: second");
    CHECK(s.requested());
    CHECK(s.why() == "cancel requested: first");
    CHECK(::poll(&p, 1, 0) == 1);
}

TEST_CASE("a stopped external handler gets SIGTERM and its outcome is cancelled with the reason") {
    pfo3::test::temp_dir d;
    const auto pid_file = d.path / "pid";
    registry r({{"slow", external_command{{"sh", "-c", "echo $$ > " + pid_file.string() + "; exec sleep 60"}, 60s}}});
    stop_request stop(10s);
    auto run = std::async(std::launch::async, [&] { return r.run(task_of("slow"), &stop); });
    const pid_t pid = wait_pid(pid_file);
    REQUIRE(pid > 0);
    const auto asked = std::chrono::steady_clock::now();
    stop.request("cancel requested: not needed");
    REQUIRE(run.wait_for(20s) == std::future_status::ready);
    const outcome o = run.get();
    // sleep dies of SIGTERM at once: the grace of 10 s is not waited out.
    CHECK(std::chrono::steady_clock::now() - asked < 5s);
    CHECK(o.status == outcome::kind::cancelled);
    CHECK(o.error == "cancel requested: not needed");
    CHECK(group_gone(pid));
}

TEST_CASE("a handler that ignores SIGTERM is killed with its whole group after the grace") {
    pfo3::test::temp_dir d;
    const auto pid_file = d.path / "pid";
    // The shell ignores TERM, and so does its background child (inherited); both are in the group.
    registry r({{"stubborn", external_command{{"sh", "-c",
                                               "trap '' TERM; sleep 60 & echo $$ > " + pid_file.string() + "; wait"},
                                              60s}}});
    stop_request stop(1000ms);
    auto run = std::async(std::launch::async, [&] { return r.run(task_of("stubborn"), &stop); });
    const pid_t pid = wait_pid(pid_file);
    REQUIRE(pid > 0);
    const auto asked = std::chrono::steady_clock::now();
    stop.request("cancel requested");
    REQUIRE(run.wait_for(20s) == std::future_status::ready);
    const auto took = std::chrono::steady_clock::now() - asked;
    CHECK(run.get().status == outcome::kind::cancelled);
    CHECK(took >= 1000ms);  // the grace was given
    CHECK(took < 6s);
    CHECK(group_gone(pid));
}

TEST_CASE("a built-in does not look at a stop request: it finishes") {
    registry r;
    stop_request stop(0ms);
    stop.request("cancel requested");
    auto t = task_of("sum");
    t.payload_json = "[1,2]";
    const outcome o = r.run(t, &stop);
    CHECK(o.status == outcome::kind::done);
    CHECK(o.result_json == "3");
}
