// Seeing results arrive in a local SQLite store by polling it, for `pfo3 bench --store sqlite://`.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "pfo3/core/error.hpp"
#include "sqlite_watch.hpp"
#include "take_until.hpp"

using namespace pfo3::bench;
namespace fs = std::filesystem;
using std::chrono::steady_clock;
using pfo3::bench::test::take_until;

namespace {

struct temp_db {
    fs::path dir;
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db{nullptr, &sqlite3_close};
    temp_db() {
        std::string t = (fs::temp_directory_path() / "pfo3-bench-sqlite-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        dir = t;
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(path().c_str(), &raw) == SQLITE_OK);
        db.reset(raw);
        // The columns the watch reads, in WAL mode as the store makes it.
        exec("PRAGMA journal_mode = WAL; CREATE TABLE pfo3_tasks (id TEXT PRIMARY KEY NOT NULL, status TEXT)");
    }
    ~temp_db() {
        db.reset();
        fs::remove_all(dir);
    }
    std::string path() const { return (dir / "results.db").string(); }
    void exec(const std::string& sql) { REQUIRE(sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK); }
};


constexpr std::chrono::microseconds poll_interval{2000};

}  // namespace

TEST_CASE("sqlite watch: rows committed after the start are seen once each, earlier and uncommitted rows are not") {
    temp_db d;
    d.exec("INSERT INTO pfo3_tasks VALUES ('before', 'done')");
    const auto start = steady_clock::now();
    sqlite_watch w(d.path(), start, poll_interval);
    d.exec("BEGIN; INSERT INTO pfo3_tasks VALUES ('a', 'done'); INSERT INTO pfo3_tasks VALUES ('b', 'done')");
    std::this_thread::sleep_for(poll_interval * 20);  // polls that must see nothing yet
    CHECK(w.take().empty());
    d.exec("COMMIT");
    d.exec("INSERT INTO pfo3_tasks VALUES ('c', 'failed')");
    d.exec("UPDATE pfo3_tasks SET status = 'done' WHERE id = 'c'");  // the same row: not seen again
    auto got = take_until(w, 3);
    REQUIRE(got.size() == 3);
    CHECK(got[0].id == "a");
    CHECK(got[1].id == "b");
    CHECK(got[2].id == "c");
    CHECK(got[0].at_ns >= 0);
    CHECK(got[2].at_ns <= std::chrono::duration_cast<std::chrono::nanoseconds>(steady_clock::now() - start).count());
    std::this_thread::sleep_for(poll_interval * 20);
    CHECK(w.take().empty());
    CHECK_FALSE(w.overflowed());
}

TEST_CASE("sqlite watch: a database that does not exist yet cannot be watched, and the error names it") {
    temp_db d;
    const auto missing = (d.dir / "nope.db").string();
    try {
        sqlite_watch w(missing, steady_clock::now(), poll_interval);
        FAIL("watched a missing database");
    } catch (const pfo3::service_error& e) {
        CHECK_THAT(e.what(), Catch::Contains(missing) && Catch::Contains("start the workers first"));
    }
    CHECK_FALSE(fs::exists(missing));
}
