#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pfo3/handlers/registry.hpp"
#include "pfo3_test/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using pfo3::handlers::external_command;
using pfo3::handlers::outcome;
using pfo3::handlers::registry;

namespace {

std::string script(const std::string& name) { return std::string(PFO3_TEST_DATA) + "/handlers/" + name; }

outcome run_ext(std::vector<std::string> argv, const std::string& payload = "null",
                std::chrono::milliseconds timeout = 10s) {
    registry r({{"ext", external_command{std::move(argv), timeout}}});
    pfo3::task t;
    t.id = "task-42";
    t.type = "ext";
    t.attempt = 3;
    t.payload_json = payload;
    return r.run(t);
}

using pfo3::test::temp_dir;

// Gone or a zombie (nobody may reap orphans in a container): either way no longer running.
bool process_dead(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

// Waits for the event with a deadline: SIGKILL takes effect asynchronously.
bool becomes_dead(pid_t pid) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!process_dead(pid)) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

pid_t read_pid(const fs::path& p) {
    std::ifstream f(p);
    pid_t pid = 0;
    f >> pid;
    return pid;
}

// Sets (or, with nullptr, unsets) a variable of this process for one test, then restores it.
class scoped_env {
public:
    scoped_env(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~scoped_env() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("external handlers are known and override built-ins of the same name") {
    registry r({{"resize", external_command{{script("text_out.sh")}, 5s}},
                {"echo", external_command{{script("text_out.sh")}, 5s}}});
    CHECK(r.knows("resize"));
    CHECK(r.knows("sum"));
    // An external "echo" is a command: it never runs inline on the worker's decoding thread.
    CHECK_FALSE(r.runs_inline("echo"));
    CHECK(r.runs_inline("sum"));
    pfo3::task t;
    t.type = "echo";
    t.payload_json = "1";
    auto o = r.run(t);
    REQUIRE(o.status == outcome::kind::done);
    CHECK(o.result_json == R"("hello \"world\"")");
}

TEST_CASE("the payload arrives on stdin and JSON output is the result") {
    auto o = run_ext({script("echo_stdin.sh")}, R"({"a":[1,2],"s":"ñ"})");
    INFO(o.error);
    REQUIRE(o.status == outcome::kind::done);
    CHECK(o.result_json == R"({"a":[1,2],"s":"ñ"})");
}

TEST_CASE("the handler sees the task id, type and attempt in its environment") {
    auto o = run_ext({script("task_env.sh")});
    INFO(o.error);
    REQUIRE(o.status == outcome::kind::done);
    CHECK(o.result_json == R"({"id":"task-42","type":"ext","attempt":3})");
}

TEST_CASE("output that is not JSON becomes a trimmed JSON string") {
    auto o = run_ext({script("text_out.sh")});
    REQUIRE(o.status == outcome::kind::done);
    CHECK(o.result_json == R"("hello \"world\"")");
}

TEST_CASE("argv is passed through and PATH is searched") {
    auto o = run_ext({"printf", "%s-%s", "a b", "c"});
    REQUIRE(o.status == outcome::kind::done);
    CHECK(o.result_json == R"("a b-c")");
}

TEST_CASE("invalid UTF-8 output still gives a valid JSON string") {
    auto o = run_ext({"printf", "ok\\377"});
    REQUIRE(o.status == outcome::kind::done);
    CHECK(o.result_json == "\"ok\xef\xbf\xbd\"");
}

TEST_CASE("a non-zero exit fails with the status and the end of stderr") {
    auto o = run_ext({script("fail.sh")});
    REQUIRE(o.status == outcome::kind::failed);
    CHECK_THAT(o.error, Catch::StartsWith("exit status 3: ") && Catch::Contains("first line | it broke"));
}

TEST_CASE("death by a signal fails and names the signal") {
    auto o = run_ext({script("crash.sh")});
    REQUIRE(o.status == outcome::kind::failed);
    CHECK_THAT(o.error, Catch::Contains("killed by signal SIGKILL"));
}

TEST_CASE("a missing executable fails with a clear message") {
    auto o = run_ext({"/nonexistent/pfo3-handler"});
    REQUIRE(o.status == outcome::kind::failed);
    CHECK_THAT(o.error, Catch::Contains("/nonexistent/pfo3-handler") && Catch::Contains("No such file"));
    auto e = run_ext({});
    CHECK(e.status == outcome::kind::failed);
}

TEST_CASE("a timeout kills the whole process group, grandchildren included") {
    temp_dir d;
    auto pid_file = d.path / "grandchild.pid";
    auto start = std::chrono::steady_clock::now();
    auto o = run_ext({script("hang_with_grandchild.sh"), pid_file.string()}, "null", 1000ms);
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(o.status == outcome::kind::failed);
    CHECK(o.error == "timed out after 1000 ms");
    CHECK(took >= 1000ms);
    CHECK(took < 5s);
    REQUIRE(fs::exists(pid_file));
    pid_t grandchild = read_pid(pid_file);
    REQUIRE(grandchild > 0);
    CHECK(becomes_dead(grandchild));
}

TEST_CASE("a handler that exits while a grandchild holds stdout returns at once") {
    temp_dir d;
    auto pid_file = d.path / "grandchild.pid";
    auto start = std::chrono::steady_clock::now();
    auto o = run_ext({script("leave_grandchild.sh"), pid_file.string()}, "null", 20s);
    INFO(o.error);
    REQUIRE(o.status == outcome::kind::done);
    CHECK(o.result_json == R"("finished")");
    CHECK(std::chrono::steady_clock::now() - start < 10s);
    pid_t grandchild = read_pid(pid_file);
    REQUIRE(grandchild > 0);
    CHECK(becomes_dead(grandchild));
}

TEST_CASE("a child that never reads a 1 MiB payload while writing a lot does not deadlock") {
    std::string payload = "\"" + std::string(1 << 20, 'p') + "\"";
    auto o = run_ext({script("ignore_stdin.sh")}, payload, 20s);
    INFO(o.error);
    REQUIRE(o.status == outcome::kind::done);
    CHECK(o.result_json == "\"" + std::string(300000, 'x') + "\"");
}

TEST_CASE("a child that exits without reading its stdin does not kill the worker") {
    std::string payload = "\"" + std::string(1 << 20, 'p') + "\"";
    auto o = run_ext({"true"}, payload);
    REQUIRE(o.status == outcome::kind::done);
    CHECK(o.result_json == R"("")");
}

TEST_CASE("output beyond 16 MiB is cut off and fails") {
    auto o = run_ext({script("huge_output.sh")}, "null", 30s);
    REQUIRE(o.status == outcome::kind::failed);
    CHECK_THAT(o.error, Catch::Contains("output exceeds 16 MiB"));
}

TEST_CASE("concurrent runs from several threads are independent") {
    std::vector<std::thread> threads;
    std::vector<outcome> results(8);
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] { results[i] = run_ext({script("echo_stdin.sh")}, std::to_string(i)); });
    for (auto& t : threads) t.join();
    for (int i = 0; i < 8; ++i) {
        INFO(results[i].error);
        CHECK(results[i].result_json == std::to_string(i));
    }
}

TEST_CASE("a handler gets a clean environment: PATH, LANG, HOME, TZ and what its env lists") {
    // The worker's own secrets, as a deployment would have them.
    scoped_env amqp("PFO3_AMQP_URL", "amqp://pfo3:worker-secret@broker/");
    scoped_env aws("AWS_SECRET_ACCESS_KEY", "aws-worker-secret");
    scoped_env pg("PGPASSWORD", "pg-worker-secret");
    scoped_env unlisted("HANDLER_TEST_UNLISTED", "not-for-the-handler");
    scoped_env passed("HANDLER_TEST_PASSED", "passed-on");
    scoped_env absent("HANDLER_TEST_ABSENT", nullptr);
    scoped_env lang("LANG", "C.UTF-8");
    scoped_env tz("TZ", "UTC");

    registry r({{"ext", external_command{{"env"},
                                         10s,
                                         {"HANDLER_TEST_PASSED", "SET_HERE=a=b c", "PGPASSWORD=handler-own",
                                          "HANDLER_TEST_ABSENT"}}}});
    pfo3::task t;
    t.id = "task-42";
    t.type = "ext";
    t.attempt = 2;
    auto o = r.run(t);
    INFO(o.error);
    REQUIRE(o.status == outcome::kind::done);
    // One variable per line of `env`'s output.
    std::vector<std::string> names;
    std::string text = o.result_json.substr(1, o.result_json.size() - 2);
    for (std::size_t at = 0; at <= text.size();) {
        auto end = text.find("\\n", at);
        if (end == std::string::npos) end = text.size();
        names.push_back(text.substr(at, end - at));
        at = end + 2;
    }
    INFO(o.result_json);
    auto has = [&](const std::string& line) { return std::find(names.begin(), names.end(), line) != names.end(); };
    CHECK(o.result_json.find("worker-secret") == std::string::npos);
    CHECK(o.result_json.find("PFO3_AMQP_URL") == std::string::npos);
    CHECK(o.result_json.find("AWS_SECRET_ACCESS_KEY") == std::string::npos);
    CHECK(o.result_json.find("pg-worker-secret") == std::string::npos);
    CHECK(o.result_json.find("HANDLER_TEST_UNLISTED") == std::string::npos);
    CHECK(o.result_json.find("HANDLER_TEST_ABSENT") == std::string::npos);
    CHECK(has("HANDLER_TEST_PASSED=passed-on"));
    CHECK(has("SET_HERE=a=b c"));
    CHECK(has("PGPASSWORD=handler-own"));
    CHECK(has("PATH=" + std::string(std::getenv("PATH"))));
    CHECK(has("LANG=C.UTF-8"));
    CHECK(has("TZ=UTC"));
    CHECK(has("PFO3_TASK_ID=task-42"));
    CHECK(has("PFO3_TASK_ATTEMPT=2"));
    // PATH, LANG, HOME (when set), TZ, three listed, three of the task.
    CHECK(names.size() == (std::getenv("HOME") ? 10u : 9u));
}
