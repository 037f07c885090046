#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "file_store.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/unique_fd.hpp"
#include "pfo3/store/result_store.hpp"
#include "pfo3_test/temp_dir.hpp"

namespace fs = std::filesystem;
using pfo3::task_record;
using pfo3::task_status;
using pfo3::store::file_store;
using pfo3::store::file_write_method;

namespace {

// A fresh directory per test, removed afterwards.
using pfo3::test::temp_dir;

task_record record(std::string id, std::string result = "42", task_status status = task_status::done,
                   int attempts = 1) {
    task_record r;
    r.id = std::move(id);
    r.type = "echo";
    r.payload_json = R"({"n":1})";
    r.status = status;
    r.result_json = std::move(result);
    r.attempts = attempts;
    r.worker = "test:1";
    r.submitted_at = "2026-01-01T00:00:00.000Z";
    return r;
}

void write_one(file_store& s, const task_record& r) { s.write(std::span<const task_record>(&r, 1)); }

void write_file(const fs::path& p, const std::string& text) {
    std::ofstream f(p, std::ios::binary);
    f << text;
}

std::vector<std::string> temp_files(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find('~') != std::string::npos) out.push_back(e.path().string());
    return out;
}

}  // namespace

TEST_CASE("a written record reads back, a missing one is nullopt") {
    const auto method = GENERATE(file_write_method::unnamed, file_write_method::named_temp);
    temp_dir d;
    file_store s(d.path.string(), method);
    write_one(s, record("task-1"));
    auto got = s.read("task-1");
    REQUIRE(got);
    CHECK(got->result_json == "42");
    CHECK(got->payload_json == R"({"n":1})");
    CHECK(fs::exists(d.path / "task-1.json"));
    CHECK_FALSE(s.read("task-2"));
    CHECK(temp_files(d.path).empty());
}

TEST_CASE("writing an existing id replaces it (upsert)") {
    const auto method = GENERATE(file_write_method::unnamed, file_write_method::named_temp);
    temp_dir d;
    file_store s(d.path.string(), method);
    write_one(s, record("same", "1", task_status::failed));
    auto second = record("same", R"({"v":2})");
    second.status = task_status::dead;
    second.error = "boom";
    write_one(s, second);
    auto got = s.read("same");
    REQUIRE(got);
    CHECK(got->result_json == R"({"v":2})");
    CHECK(got->status == task_status::dead);
    CHECK(got->error == "boom");
}

TEST_CASE("invalid ids are refused before any path is built") {
    temp_dir d;
    file_store s(d.path.string());
    for (std::string id : std::vector<std::string>{"", ".", "..", "../x", "a/b", "x y", std::string(129, 'a')}) {
        INFO(id);
        try {
            write_one(s, record(id));
            FAIL("write accepted an invalid id");
        } catch (const pfo3::service_error& e) {
            CHECK_FALSE(e.retryable());
        }
        CHECK_THROWS_AS(s.read(id), pfo3::service_error);
    }
    CHECK(fs::is_empty(d.path));
}

TEST_CASE("a corrupt record file is an error, not a missing record") {
    temp_dir d;
    file_store s(d.path.string());
    write_file(d.path / "bad.json", "{\"id\":\"bad\",");
    CHECK_THROWS_WITH(s.read("bad"), Catch::Contains("corrupt") && Catch::Contains("bad.json"));
    // A valid record under the wrong name is corrupt too.
    write_one(s, record("other"));
    fs::copy_file(d.path / "other.json", d.path / "renamed.json");
    CHECK_THROWS_WITH(s.read("renamed"), Catch::Contains("corrupt"));
}

TEST_CASE("a directory that cannot be created is a non-retryable error naming it") {
    temp_dir d;
    write_file(d.path / "plain-file", "x");
    // Runs as root in CI, so permissions cannot make it fail: a path under a regular file can.
    auto bad = (d.path / "plain-file" / "results").string();
    try {
        file_store s(bad);
        FAIL("constructor accepted an unusable directory");
    } catch (const pfo3::service_error& e) {
        CHECK_FALSE(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("plain-file"));
    }
    CHECK_THROWS_AS(file_store((d.path / "plain-file").string()), pfo3::service_error);
}

TEST_CASE("missing parent directories are created") {
    temp_dir d;
    auto nested = d.path / "a" / "b" / "c";
    file_store s(nested.string() + "/");
    CHECK(fs::is_directory(nested));
    CHECK(s.describe() == "file://" + nested.string());
    write_one(s, record("x"));
    CHECK(s.read("x"));
}

TEST_CASE("a group of 100 records is written in one call") {
    const auto method = GENERATE(file_write_method::unnamed, file_write_method::named_temp);
    temp_dir d;
    file_store s(d.path.string(), method);
    std::vector<task_record> group;
    for (int i = 0; i < 100; ++i) group.push_back(record("id-" + std::to_string(i), std::to_string(i)));
    s.write(group);
    for (int i = 0; i < 100; ++i) {
        auto got = s.read("id-" + std::to_string(i));
        REQUIRE(got);
        CHECK(got->result_json == std::to_string(i));
    }
    CHECK(temp_files(d.path).empty());
    s.write(std::span<const task_record>{});  // an empty group is a no-op
}

TEST_CASE("a group larger than the open-file bound is written whole, replacing what was there") {
    temp_dir d;
    file_store s(d.path.string(), file_write_method::unnamed);
    std::vector<task_record> group;
    for (int i = 0; i < 600; ++i) group.push_back(record("big-" + std::to_string(i), "1", task_status::failed));
    s.write(group);
    for (auto& r : group) {
        r.result_json = "2";
        r.status = task_status::done;
    }
    s.write(group);  // every name exists now: each is replaced, none fails
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(d.path)) files += e.is_regular_file() ? 1 : 0;
    CHECK(files == 600);
    for (int i = 0; i < 600; i += 97) {
        auto got = s.read("big-" + std::to_string(i));
        REQUIRE(got);
        CHECK(got->result_json == "2");
    }
    CHECK(temp_files(d.path).empty());
}

// Whether this kernel and file system can create an unnamed file in `dir` and link it to a
// name, asked directly (not through the store).
bool kernel_has_unnamed_files(const fs::path& dir) {
    pfo3::unique_fd fd(::open(dir.c_str(), O_TMPFILE | O_WRONLY, 0600));
    if (!fd) return false;
    const std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
    const bool linked = ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, (dir / "probe").c_str(), AT_SYMLINK_FOLLOW) == 0;
    if (linked) ::unlink((dir / "probe").c_str());
    return linked;
}

TEST_CASE("the automatic method uses unnamed files where the file system has them") {
    // If the kernel can but the store chose named temp files, every result costs three
    // directory operations instead of one.
    temp_dir d;
    file_store s(d.path.string());
    const bool can = kernel_has_unnamed_files(d.path);
    INFO("O_TMPFILE + linkat usable in " << d.path << ": " << can);
    CHECK(s.method() == (can ? file_write_method::unnamed : file_write_method::named_temp));
    CHECK(file_store(d.path.string(), file_write_method::named_temp).method() == file_write_method::named_temp);
}

TEST_CASE("a group with one invalid id writes nothing") {
    temp_dir d;
    file_store s(d.path.string());
    std::vector<task_record> group{record("ok-1"), record("bad/id"), record("ok-2")};
    CHECK_THROWS_AS(s.write(group), pfo3::service_error);
    CHECK_FALSE(s.read("ok-1"));
}

TEST_CASE("concurrent writers of the same id leave one whole record") {
    const auto method = GENERATE(file_write_method::unnamed, file_write_method::named_temp);
    temp_dir d;
    file_store s(d.path.string(), method);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) write_one(s, record("hot", std::to_string(t)));
        });
    for (auto& th : threads) th.join();
    auto got = s.read("hot");
    REQUIRE(got);
    CHECK(got->result_json.size() == 1);
    CHECK(temp_files(d.path).empty());
}

TEST_CASE("stale temp files from a crash are ignored by read and removed at start") {
    temp_dir d;
    auto stale = d.path / ".crashed.json~tmp~0123456789abcdef";
    auto fresh = d.path / ".busy.json~tmp~fedcba9876543210";
    write_file(stale, "{\"id\":\"crashed\"");
    write_file(fresh, "{");
    timeval old[2] = {{1000000000, 0}, {1000000000, 0}};
    REQUIRE(::utimes(stale.c_str(), old) == 0);
    file_store s(d.path.string());
    CHECK_FALSE(fs::exists(stale));
    CHECK(fs::exists(fresh));  // may be another worker's write in progress
    CHECK_FALSE(s.read("crashed"));
    CHECK_FALSE(s.read("busy"));
}

TEST_CASE("a record whose id looks like a temp file of old survives a restart") {
    // Ids may contain dots: `.a.json.tmp.b` is valid, and its file `.a.json.tmp.b.json` once
    // looked like a stale temp file to the start-up cleaner.
    temp_dir d;
    const std::string id = ".a.json.tmp.b";
    {
        file_store s(d.path.string());
        write_one(s, record(id, "\"kept\""));
    }
    const auto file = d.path / (id + ".json");
    REQUIRE(fs::exists(file));
    const time_t old = ::time(nullptr) - 120;
    timeval times[2] = {{old, 0}, {old, 0}};
    REQUIRE(::utimes(file.c_str(), times) == 0);
    // A stale temp of an older release (`.ID.json.tmp.RANDOM`) beside it is cleaned; the
    // record is not.
    const auto old_temp = d.path / ".x.json.tmp.0123456789abcdef";
    write_file(old_temp, "{");
    REQUIRE(::utimes(old_temp.c_str(), times) == 0);
    file_store again(d.path.string());
    auto got = again.read(id);
    REQUIRE(got);
    CHECK(got->result_json == "\"kept\"");
    CHECK_FALSE(fs::exists(old_temp));
}

TEST_CASE("a record never goes backwards: older or duplicate records leave the stored one") {
    const auto method = GENERATE(file_write_method::unnamed, file_write_method::named_temp);
    temp_dir d;
    file_store s(d.path.string(), method);
    using st = task_status;
    auto stored_after = [&](const std::string& id, const task_record& first, const task_record& second) {
        write_one(s, first);
        write_one(s, second);
        auto got = s.read(id);
        REQUIRE(got);
        return *got;
    };
    SECTION("a late failed of attempt 1 after attempt 2's done") {
        auto got = stored_after("t", record("t", "2", st::done, 2), record("t", "null", st::failed, 1));
        CHECK(got.status == st::done);
        CHECK(got.attempts == 2);
    }
    SECTION("a second done with another result") {
        auto got = stored_after("t", record("t", "\"first\""), record("t", "\"second\""));
        CHECK(got.result_json == "\"first\"");
    }
    SECTION("a later attempt's failed replaces an earlier one") {
        auto got = stored_after("t", record("t", "1", st::failed, 1), record("t", "2", st::failed, 2));
        CHECK(got.status == st::failed);
        CHECK(got.attempts == 2);
    }
    SECTION("dead stays dead") {
        auto got = stored_after("t", record("t", "null", st::dead, 5), record("t", "1", st::done, 6));
        CHECK(got.status == st::dead);
        CHECK(got.attempts == 5);
    }
    CHECK(temp_files(d.path).empty());
}

TEST_CASE("a group holding one id twice stores the newest record of it") {
    const auto method = GENERATE(file_write_method::unnamed, file_write_method::named_temp);
    temp_dir d;
    file_store s(d.path.string(), method);
    // A retry's done and its own attempt's late failed, committed together.
    std::vector<task_record> group{record("r", "2", task_status::done, 2), record("other"),
                                   record("r", "null", task_status::failed, 1)};
    s.write(group);
    auto got = s.read("r");
    REQUIRE(got);
    CHECK(got->status == task_status::done);
    CHECK(got->attempts == 2);
    CHECK(s.read("other"));
    CHECK(temp_files(d.path).empty());
}

TEST_CASE("a record the store cannot hold is rejected as such, naming it") {
    temp_dir d;
    file_store s(d.path.string());
    auto bad = record("bad-json", "{not json");
    try {
        write_one(s, bad);
        FAIL("invalid JSON was written");
    } catch (const pfo3::record_rejected& e) {
        CHECK(e.id() == "bad-json");
        CHECK_THAT(e.what(), Catch::Contains("not valid JSON"));
    }
    auto bad_id = record("a/b");
    CHECK_THROWS_AS(write_one(s, bad_id), pfo3::record_rejected);
    CHECK(fs::is_empty(d.path));
    write_one(s, record("fine"));  // the store works on
    CHECK(s.read("fine"));
}

TEST_CASE("a record larger than the file size limit is rejected as such") {
    // RLIMIT_FSIZE makes write() fail with EFBIG once SIGXFSZ is ignored: the record, not the
    // store, is at fault, and the next record is stored.
    const auto method = GENERATE(file_write_method::unnamed, file_write_method::named_temp);
    temp_dir d;
    file_store s(d.path.string(), method);
    struct sigaction ignore {}, saved {};
    ignore.sa_handler = SIG_IGN;
    REQUIRE(::sigaction(SIGXFSZ, &ignore, &saved) == 0);
    rlimit old {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    rlimit small = old;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    auto big = record("big", "\"" + std::string(10000, 'x') + "\"");
    std::string caught;
    try {
        write_one(s, big);
    } catch (const pfo3::record_rejected& e) {
        caught = e.id();
    } catch (const std::exception& e) {
        caught = std::string("other: ") + e.what();
    }
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    REQUIRE(::sigaction(SIGXFSZ, &saved, nullptr) == 0);
    CHECK(caught == "big");
    CHECK_FALSE(s.read("big"));
    write_one(s, record("small"));
    CHECK(s.read("small"));
    CHECK(temp_files(d.path).empty());
}

TEST_CASE("open_store opens file:// URIs and refuses unknown schemes as config errors") {
    temp_dir d;
    auto s = pfo3::store::open_store("file://" + d.path.string());
    REQUIRE(s);
    CHECK(s->describe() == "file://" + d.path.string());

    CHECK_THROWS_AS(pfo3::store::open_store("file:relative/dir"), pfo3::config_error);
    CHECK_THROWS_AS(pfo3::store::open_store("file://relative/dir"), pfo3::config_error);
    CHECK_THROWS_AS(pfo3::store::open_store("file://"), pfo3::config_error);
    CHECK_THROWS_WITH(pfo3::store::open_store("redis://u:secret@h/"),
                      Catch::Contains("redis://u:***@h/") && !Catch::Contains("secret"));
    CHECK_THROWS_AS(pfo3::store::open_store(""), pfo3::config_error);
}
