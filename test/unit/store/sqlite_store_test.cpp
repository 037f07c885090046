// sqlite_store against real database files in a fresh directory per test; several processes
// (fork) share one file the way workers of one host do.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pfo3/core/error.hpp"
#include "sql_test_record.hpp"
#include "store_contract.hpp"
#include "pfo3/store/result_store.hpp"
#include "sqlite_store.hpp"
#include "pfo3_test/temp_dir.hpp"

namespace fs = std::filesystem;
using pfo3::task_record;
using pfo3::task_status;
using pfo3::test::record;
using pfo3::store::sqlite_store;

namespace {

struct temp_dir : pfo3::test::temp_dir {
    std::string db() const { return (path / "results.db").string(); }
};


void write_one(pfo3::store::result_store& s, const task_record& r) { s.write(std::span(&r, 1)); }

// One value of a query, as text, through a connection of the test's own (as `sqlite3 FILE` would).
std::string query(const std::string& db, const std::string& sql) {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn(raw, &sqlite3_close);
    sqlite3_busy_timeout(raw, 10000);
    std::string out;
    char* err = nullptr;
    auto collect = [](void* o, int n, char** values, char**) {
        auto* s = static_cast<std::string*>(o);
        for (int i = 0; i < n; ++i) *s += (i ? "|" : "") + std::string(values[i] ? values[i] : "NULL");
        return 0;
    };
    const int rc = sqlite3_exec(raw, sql.c_str(), collect, &out, &err);
    INFO(sql << ": " << (err ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
    return out;
}

// The exit status of a child process running f (0: f returned true).
int in_child(const std::function<bool()>& f) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        bool ok = false;
        try {
            ok = f();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: %s\n", e.what());
        }
        ::_exit(ok ? 0 : 1);
    }
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("sqlite store: a record reads back as written, in a versioned WAL-mode table") {
    temp_dir d;
    sqlite_store store(d.db());
    auto r = record("a-1");
    r.status = task_status::failed;
    r.error = "exit status 3";
    r.attempts = 2;
    r.requeues = 1;
    write_one(store, r);
    auto got = store.read("a-1");
    REQUIRE(got);
    CHECK(got->id == "a-1");
    CHECK(got->type == "echo");
    CHECK(got->payload_json == r.payload_json);  // JSON text exactly as received
    CHECK(got->status == task_status::failed);
    CHECK(got->result_json == "42");
    CHECK(got->error == "exit status 3");
    CHECK(got->attempts == 2);
    CHECK(got->worker == "host:1");
    CHECK(got->submitted_at == r.submitted_at);
    CHECK(got->started_at == r.started_at);
    CHECK(got->finished_at == r.finished_at);
    CHECK(got->requeues == 1);
    CHECK_FALSE(store.read("missing"));
    CHECK(store.describe() == "sqlite://" + d.db());
    CHECK(query(d.db(), "PRAGMA user_version") == "1");
    CHECK(query(d.db(), "PRAGMA journal_mode") == "wal");
    // What a user sees with `sqlite3 results.db 'select …'`.
    CHECK(query(d.db(), "SELECT id, status, result, attempts, error FROM pfo3_tasks") == "a-1|failed|42|2|exit status 3");
    CHECK(query(d.db(), "SELECT updated_at LIKE '____-__-__T__:__:__.___Z' FROM pfo3_tasks") == "1");
}

TEST_CASE("sqlite store: a rewrite replaces the row, and a group holding one id twice stores its newest record") {
    temp_dir d;
    sqlite_store store(d.db());
    write_one(store, record("same", "1", task_status::failed));
    write_one(store, record("same", "2"));
    std::vector<task_record> group{record("g", "\"old\"", task_status::failed), record("h"),
                                   record("g", "\"new\"", task_status::failed),
                                   record("r", "2", task_status::done, 2), record("r", "null", task_status::failed, 1)};
    store.write(group);
    CHECK(store.read("same")->result_json == "2");
    CHECK(store.read("g")->result_json == "\"new\"");
    CHECK(store.read("r")->status == task_status::done);  // a retry's done over its attempt's late failed
    CHECK(query(d.db(), "SELECT count(*), count(DISTINCT id) FROM pfo3_tasks") == "4|4");
}

TEST_CASE("sqlite store: a record only moves forward, exactly as may_replace says") {
    temp_dir d;
    sqlite_store store(d.db());
    pfo3::test::check_moves_only_as_may_replace(store);
}

TEST_CASE("sqlite store: awkward text is stored, invalid UTF-8 and NUL bytes repaired as PostgreSQL repairs them") {
    temp_dir d;
    sqlite_store store(d.db());
    auto r = record("odd", R"({"nul":"a\u0000b","q":"'; DROP TABLE pfo3_tasks; --"})");
    r.payload_json = R"("just a string")";
    static constexpr char awkward[] = "nul\0byte and bad \xff utf-8";
    r.error = std::string(awkward, sizeof awkward - 1);
    r.type = "NULL";
    r.started_at.clear();
    write_one(store, r);
    auto got = store.read("odd");
    REQUIRE(got);
    CHECK(got->payload_json == R"("just a string")");
    CHECK(got->result_json == r.result_json);
    CHECK(got->error == "nul\xEF\xBF\xBD" "byte and bad \xEF\xBF\xBD utf-8");
    CHECK(got->type == "NULL");
    CHECK(got->started_at.empty());
    auto plain = record("plain");
    write_one(store, plain);
    CHECK(query(d.db(), "SELECT count(*) FROM pfo3_tasks WHERE started_at IS NULL") == "1");
    CHECK(query(d.db(), "SELECT count(*) FROM pfo3_tasks WHERE error IS NULL") == "1");  // no error: NULL
}

TEST_CASE("sqlite store: a record larger than the limit is rejected naming it, its group stores nothing, and the store carries on") {
    temp_dir d;
    sqlite_store::options opts;
    opts.max_record_bytes = 4096;
    sqlite_store store(d.db(), opts);
    auto big = record("big", "\"" + std::string(8000, 'x') + "\"");
    try {
        write_one(store, big);
        FAIL("no error");
    } catch (const pfo3::record_rejected& e) {
        CHECK(e.id() == "big");
        CHECK_FALSE(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("too big") && Catch::Contains(d.db()));
    }
    std::vector<task_record> group;
    for (int i = 0; i < 2500; ++i) group.push_back(record("id-" + std::to_string(i), std::to_string(i)));
    group[1200] = big;
    try {
        store.write(group);
        FAIL("no error");
    } catch (const pfo3::record_rejected& e) {
        CHECK(e.id() == "big");
    }
    CHECK(query(d.db(), "SELECT count(*) FROM pfo3_tasks") == "0");
    group[1200] = record("id-1200");
    store.write(group);
    CHECK(query(d.db(), "SELECT count(*) FROM pfo3_tasks") == "2500");
    CHECK(store.read("id-2499")->result_json == "2499");
}

TEST_CASE("sqlite store: an invalid id is refused and never found") {
    temp_dir d;
    sqlite_store store(d.db());
    pfo3::test::check_invalid_id_refused(store);
}

TEST_CASE("sqlite store: unusable files and directories are non-retryable errors that say what is wrong") {
    temp_dir d;
    auto refused = [](const std::string& path) -> std::string {
        try {
            sqlite_store store(path);
        } catch (const pfo3::service_error& e) {
            CHECK_FALSE(e.retryable());
            return e.what();
        }
        FAIL("opened " << path);
        return {};
    };
    CHECK_THAT(refused((d.path / "no-such-dir" / "results.db").string()),
               Catch::Contains("directory " + (d.path / "no-such-dir").string()) &&
                   Catch::Contains("No such file or directory"));
    CHECK_FALSE(fs::exists(d.path / "no-such-dir"));
    std::ofstream(d.path / "plain-file") << "x";
    CHECK_THAT(refused((d.path / "plain-file" / "results.db").string()), Catch::Contains("is not a directory"));
    fs::create_directory(d.path / "dir.db");
    CHECK_THAT(refused((d.path / "dir.db").string()), Catch::Contains("is a directory"));
    std::ofstream(d.path / "garbage.db") << std::string(8192, 'g');
    CHECK_THAT(refused((d.path / "garbage.db").string()),
               Catch::Contains("file is not a database") && Catch::Contains("move it aside"));

    // A directory this user may not write to (as an unprivileged user, since root may write anywhere).
    fs::create_directory(d.path / "locked");
    ::chmod(d.path.c_str(), 0755);
    ::chmod((d.path / "locked").c_str(), 0755);
    const std::string locked = (d.path / "locked" / "results.db").string();
    const pid_t child = in_child([&] {
        if (::geteuid() == 0 && ::setuid(65534) != 0) return false;
        try {
            sqlite_store store(locked);
        } catch (const pfo3::service_error& e) {
            const std::string what = e.what();
            return !e.retryable() && what.find("is not writable by this user") != std::string::npos;
        }
        return false;
    });
    CHECK(wait_exit(child) == 0);
    CHECK_FALSE(fs::exists(locked));
}

TEST_CASE("sqlite store: a schema newer than this release is refused") {
    temp_dir d;
    { sqlite_store first(d.db()); }
    query(d.db(), "PRAGMA user_version = 2");
    try {
        sqlite_store second(d.db());
        FAIL("no error");
    } catch (const pfo3::service_error& e) {
        CHECK_FALSE(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("schema version 2"));
    }
}

TEST_CASE("sqlite store: open_store takes sqlite:///ABSOLUTE/FILE only") {
    temp_dir d;
    auto s = pfo3::store::open_store("sqlite://" + d.db());
    CHECK(s->describe() == "sqlite://" + d.db());
    for (const char* bad : {"sqlite://results.db", "sqlite:results.db", "sqlite://", "sqlite:///var/lib/pfo3/",
                            "sqlite:///tmp/x.db?mode=ro"}) {
        INFO(bad);
        CHECK_THROWS_AS(pfo3::store::open_store(bad), pfo3::config_error);
    }
    CHECK_THROWS_WITH(pfo3::store::open_store("sqlite://results.db"), Catch::Contains("absolute path"));
}

TEST_CASE("sqlite store: a reader never creates the file, sees no records until a writer made it, and cannot write") {
    temp_dir d;
    auto reader = pfo3::store::open_store("sqlite://" + d.db(), pfo3::store::store_use::read);
    CHECK_FALSE(reader->read("a"));
    CHECK_FALSE(fs::exists(d.db()));
    sqlite_store writer(d.db());
    write_one(writer, record("a", "1"));
    REQUIRE(reader->read("a"));
    CHECK(reader->read("a")->result_json == "1");
    auto r = record("b");
    CHECK_THROWS_AS(write_one(*reader, r), pfo3::service_error);
    CHECK_FALSE(writer.read("b"));

    // A writer holding the write lock mid-transaction does not hold up the reader, which sees
    // the last committed record.
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(d.db().c_str(), &raw) == SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> other(raw, &sqlite3_close);
    REQUIRE(sqlite3_exec(raw, "BEGIN IMMEDIATE; UPDATE pfo3_tasks SET result = '2' WHERE id = 'a'", nullptr, nullptr,
                         nullptr) == SQLITE_OK);
    const auto start = std::chrono::steady_clock::now();
    CHECK(reader->read("a")->result_json == "1");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    REQUIRE(sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    CHECK(reader->read("a")->result_json == "2");
}

TEST_CASE("sqlite store: a reader opened after every writer closed still reads the WAL-mode file") {
    temp_dir d;
    { sqlite_store writer(d.db()); write_one(writer, record("a", "7")); }
    // The last connection to close checkpoints and removes FILE-wal and FILE-shm.
    CHECK_FALSE(fs::exists(d.db() + "-wal"));
    auto reader = pfo3::store::open_store("sqlite://" + d.db(), pfo3::store::store_use::read);
    REQUIRE(reader->read("a"));
    CHECK(reader->read("a")->result_json == "7");
}

TEST_CASE("sqlite store: a writer waits for another's write lock instead of failing") {
    temp_dir d;
    sqlite_store store(d.db());
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(d.db().c_str(), &raw) == SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> other(raw, &sqlite3_close);
    REQUIRE(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    std::atomic<bool> written{false};
    std::string failure;
    std::thread w([&] {
        try {
            write_one(store, record("waited"));
            written = true;
        } catch (const std::exception& e) {
            failure = e.what();
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the writer is waiting meanwhile
    CHECK_FALSE(written);
    REQUIRE(sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    w.join();
    CHECK(failure == "");
    CHECK(written);
    CHECK(store.read("waited"));

    // Past busy_timeout the write fails, retryably: the worker keeps the tasks and tries again.
    sqlite_store::options quick;
    quick.busy_timeout = std::chrono::milliseconds(200);
    sqlite_store impatient(d.db(), quick);
    REQUIRE(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    try {
        write_one(impatient, record("late"));
        FAIL("no error");
    } catch (const pfo3::record_rejected&) {
        FAIL("a busy database is no fault of the record");
    } catch (const pfo3::service_error& e) {
        CHECK(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("locked"));
    }
    REQUIRE(sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    write_one(impatient, record("late"));
    CHECK(store.read("late"));
}

TEST_CASE("sqlite store: workers starting together create the schema once, and one store serves many threads") {
    temp_dir d;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            try {
                sqlite_store store(d.db());
                for (int i = 0; i < 25; ++i) {
                    auto r = record("t" + std::to_string(t) + "-" + std::to_string(i));
                    write_one(store, r);
                    if (!store.read(r.id)) ++failures;
                }
            } catch (const std::exception& e) {
                WARN(e.what());
                ++failures;
            }
        });
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    CHECK(query(d.db(), "SELECT count(*) FROM pfo3_tasks") == "100");
}

TEST_CASE("sqlite store: two processes writing one file concurrently lose nothing") {
    temp_dir d;
    { sqlite_store create(d.db()); }
    // Both write every id of "shared-*" (attempt 1 failed from one, attempt 2 done from the
    // other: the done must win whatever the order) and ids of their own, in groups of 20.
    auto writer = [&](int which) {
        return in_child([&, which] {
            sqlite_store store(d.db());
            for (int g = 0; g < 30; ++g) {
                std::vector<task_record> group;
                for (int i = 0; i < 10; ++i) {
                    const int n = g * 10 + i;
                    group.push_back(record("own-" + std::to_string(which) + "-" + std::to_string(n)));
                    group.push_back(which == 0 ? record("shared-" + std::to_string(n), "null", task_status::failed, 1)
                                               : record("shared-" + std::to_string(n), "2", task_status::done, 2));
                }
                store.write(group);
            }
            return true;
        });
    };
    const pid_t a = writer(0), b = writer(1);
    CHECK(wait_exit(a) == 0);
    CHECK(wait_exit(b) == 0);
    CHECK(query(d.db(), "SELECT count(*) FROM pfo3_tasks WHERE id LIKE 'own-%'") == "600");
    CHECK(query(d.db(), "SELECT count(*), min(status), max(attempts) FROM pfo3_tasks WHERE id LIKE 'shared-%'") ==
          "300|done|2");
    CHECK(query(d.db(), "PRAGMA integrity_check") == "ok");
}

TEST_CASE("sqlite store: a writer killed mid-way leaves every group it committed, each whole") {
    temp_dir d;
    { sqlite_store create(d.db()); }
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t child = in_child([&] {
        ::close(fds[0]);
        sqlite_store store(d.db());
        for (int g = 0;; ++g) {
            std::vector<task_record> group;
            for (int i = 0; i < 50; ++i) group.push_back(record("g" + std::to_string(g) + "-" + std::to_string(i)));
            store.write(group);
            // Told only once committed, as a worker acks only then.
            if (::write(fds[1], &g, sizeof g) != static_cast<ssize_t>(sizeof g)) return false;
        }
    });
    ::close(fds[1]);
    int last = -1;
    while (last < 20) REQUIRE(::read(fds[0], &last, sizeof last) == static_cast<ssize_t>(sizeof last));
    // Killed once rows past the acknowledged groups are visible: a store that committed row by
    // row is caught mid-group then; a transactional one shows the next group only whole.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::stoi(query(d.db(), "SELECT count(*) FROM pfo3_tasks")) <= (last + 1) * 50 &&
           std::chrono::steady_clock::now() < deadline) {
    }
    ::kill(child, SIGKILL);
    CHECK(wait_exit(child) == 128 + SIGKILL);
    ::close(fds[0]);

    sqlite_store reopened(d.db());
    for (int g = 0; g <= last; ++g) {
        INFO("group " << g);
        CHECK(reopened.read("g" + std::to_string(g) + "-0"));
        CHECK(reopened.read("g" + std::to_string(g) + "-49"));
    }
    // A group the kill cut short is there whole or not at all.
    CHECK(query(d.db(), "SELECT count(*) FROM (SELECT substr(id, 1, instr(id, '-')) AS g, count(*) AS n FROM pfo3_tasks "
                        "GROUP BY g HAVING n != 50)") == "0");
    CHECK(query(d.db(), "PRAGMA integrity_check") == "ok");
    write_one(reopened, record("after"));
    CHECK(reopened.read("after"));
}
