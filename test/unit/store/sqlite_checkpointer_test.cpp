// The WAL checkpointer thread of the SQLite store (sqlite_checkpointer.hpp) against real
// database files: it copies the WAL back, restarts it under a steady load with readers, and
// leaves the checkpoint to the commits when it falls behind or keeps failing.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sqlite_checkpointer.hpp"
#include "pfo3_test/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

struct temp_dir : pfo3::test::temp_dir {
    std::string db() const { return (path / "results.db").string(); }
};

}  // namespace

TEST_CASE("sqlite store: the WAL is copied back into the database by the checkpointer thread, not by the commits") {
    temp_dir dir;
    const std::string db = dir.db();
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn(raw, &sqlite3_close);
    REQUIRE(sqlite3_exec(raw, "PRAGMA journal_mode = WAL; CREATE TABLE t (v BLOB)", nullptr, nullptr, nullptr) == SQLITE_OK);
    const auto main_size = [&] { return fs::file_size(db); };
    const auto before = main_size();

    pfo3::store::sqlite_checkpointer checkpointer(db, 10);
    checkpointer.attach(raw);
    // 40 commits of about 4 pages each: the threshold of 10 frames is crossed many times.
    for (int i = 0; i < 40; ++i)
        REQUIRE(sqlite3_exec(raw, "INSERT INTO t VALUES (zeroblob(12000))", nullptr, nullptr, nullptr) == SQLITE_OK);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (checkpointer.completed() == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(checkpointer.completed() >= 1);
    // The pages reached the database file itself.
    CHECK(main_size() > before + 100000);
    conn.reset();
}

TEST_CASE("sqlite store: under a steady load with readers always in the WAL, the checkpointer still empties it") {
    // A writer restarts the WAL from the top only when every frame is copied back and no reader
    // is in it; with readers always present that never happens, and PASSIVE checkpoints alone
    // let the file grow without end (555 MB in 33 s at 2000 tasks/s).
    temp_dir dir;
    const std::string db = dir.db();
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn(raw, &sqlite3_close);
    REQUIRE(sqlite3_exec(raw, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; CREATE TABLE t (v BLOB)",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(raw, 10000);  // the RESTART holds new writers back for a moment

    std::atomic<bool> stop{false};
    std::atomic<long> reads{0};
    std::string reader_error;
    std::mutex error_mutex;
    auto read_loop = [&] {
        sqlite3* r = nullptr;
        if (sqlite3_open_v2(db.c_str(), &r, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
            std::lock_guard lk(error_mutex);
            reader_error = "open";
            sqlite3_close(r);
            return;
        }
        sqlite3_busy_timeout(r, 10000);
        while (!stop) {
            // Two statements in one transaction: the snapshot is held a little while.
            const int rc = sqlite3_exec(r, "BEGIN; SELECT count(*) FROM t; SELECT max(rowid) FROM t; COMMIT",
                                        nullptr, nullptr, nullptr);
            if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) {
                std::lock_guard lk(error_mutex);
                reader_error = sqlite3_errmsg(r);
                break;
            }
            sqlite3_exec(r, "ROLLBACK", nullptr, nullptr, nullptr);  // after a BUSY mid-way
            ++reads;
        }
        sqlite3_close(r);
    };
    std::thread reader1(read_loop), reader2(read_loop);
    while (reads < 10) std::this_thread::yield();

    long restarted = 0;
    std::uintmax_t wal_at_end = 0;
    {
        pfo3::store::sqlite_checkpointer checkpointer(db, 10, 200);
        checkpointer.attach(raw);
        // 3000 commits of 2-3 pages each: about 8000 frames, 40 times the 200 allowed. On a
        // loaded machine the writer could outrun the thread: past 1000 frames it waits (once at
        // most 10 s) for the WAL to be restarted, as a real worker's commits are paced by fsyncs.
        bool waited_in_vain = false;
        for (int i = 0; i < 3000; ++i) {
            REQUIRE(sqlite3_exec(raw, "INSERT INTO t VALUES (zeroblob(5000))", nullptr, nullptr, nullptr) == SQLITE_OK);
            if (i % 50 != 49 || waited_in_vain || fs::file_size(db + "-wal") < 1000u * 4096u) continue;
            const long before = checkpointer.restarted();
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (checkpointer.restarted() == before && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            waited_in_vain = checkpointer.restarted() == before;
        }
        wal_at_end = fs::file_size(db + "-wal");
        restarted = checkpointer.restarted();
    }
    stop = true;
    reader1.join();
    reader2.join();
    CHECK(reader_error == "");
    INFO("reads " << reads << ", WAL " << wal_at_end << " bytes, restarted " << restarted << " times");
    CHECK(restarted >= 1);
    // Bounded: the file is reused from the top (never cut here: no journal_size_limit), so its
    // size is the most it ever held: well under the ~32 MB the load writes.
    CHECK(wal_at_end < 3000u * 4096u);
    conn.reset();
}

namespace {

// A WAL-mode database of one table on a connection of the test's own, handed to `checkpointer`.
struct wal_writer {
    std::string db;
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn{nullptr, &sqlite3_close};

    explicit wal_writer(std::string file) : db(std::move(file)) {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
        conn.reset(raw);
        REQUIRE(sqlite3_exec(raw, "PRAGMA journal_mode = WAL; CREATE TABLE t (v BLOB)", nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    // `n` commits of about 4 pages each (a 12000-byte blob: three overflow pages and a leaf).
    void commit(int n) {
        for (int i = 0; i < n; ++i)
            REQUIRE(sqlite3_exec(conn.get(), "INSERT INTO t VALUES (zeroblob(12000))", nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    std::uintmax_t main_size() const { return fs::file_size(db); }
    std::uintmax_t wal_size() const { return fs::file_size(db + "-wal"); }
};

// 200 commits of ~4 pages with a threshold of 10 frames: ~800 frames, 3.3 MB of WAL if nothing
// copies it back; the backstop (8 x 10 frames past the first request) keeps it under ~100.
constexpr int commits = 200;
constexpr std::uintmax_t wal_bound = 130 * (4096 + 24);  // frames of a 4 KiB page and its header

}  // namespace

TEST_CASE("sqlite store: a checkpointer thread stuck 8x behind leaves the checkpoint to the commits, so the WAL stays bounded") {
    temp_dir dir;
    wal_writer w(dir.db());
    const auto before = w.main_size();
    pfo3::store::sqlite_checkpointer checkpointer(w.db, 10);
    checkpointer.hold_for_tests(true);  // a checkpoint that never ends (a disk that stalls its fsync)
    checkpointer.attach(w.conn.get());

    w.commit(commits);
    CHECK(checkpointer.completed() == 0);  // the thread did nothing: the commits copied the pages
    CHECK(w.main_size() > before + 1000000);
    CHECK(w.wal_size() < wal_bound);

    // Released, the thread serves the request it has been holding.
    checkpointer.hold_for_tests(false);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (checkpointer.completed() == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(checkpointer.completed() >= 1);
}

TEST_CASE("sqlite store: a checkpointer thread that fails every time leaves the checkpoint to the commits, so the WAL stays bounded") {
    // Each failure ends its request at once, so a request is rarely pending when the next
    // commit looks: what counts is that none was served while the WAL grew 8x the threshold.
    temp_dir dir;
    wal_writer w(dir.db());
    const auto before = w.main_size();
    // The thread cannot open its file (as with no descriptor left); the writer has its own.
    pfo3::store::sqlite_checkpointer checkpointer((dir.path / "gone" / "results.db").string(), 10);
    checkpointer.attach(w.conn.get());

    w.commit(commits);
    CHECK(checkpointer.completed() == 0);
    CHECK(w.main_size() > before + 1000000);
    CHECK(w.wal_size() < wal_bound);
}
