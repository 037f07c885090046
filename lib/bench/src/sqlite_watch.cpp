#include "sqlite_watch.hpp"

#include <sqlite3.h>

#include <condition_variable>
#include <mutex>
#include <utility>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"

namespace pfo3::bench {

void sqlite_watch::db_closer::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
void sqlite_watch::stmt_finalizer::operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }

sqlite_watch::sqlite_watch(std::string path, std::chrono::steady_clock::time_point start,
                           std::chrono::microseconds interval)
    : result_watch(start), interval_(interval), path_(std::move(path)) {
    auto fail = [&](const std::string& what) {
        throw service_error("bench: cannot watch the SQLite store " + path_ + ": " + what +
                                (db_ ? std::string(": ") + sqlite3_errmsg(db_.get()) : std::string()),
                            false);
    };
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) fail("open (start the workers first: they create it)");
    sqlite3_busy_timeout(db_.get(), 1000);
    auto prepare = [&](const char* sql, auto& out) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
            fail(std::string("prepare ") + sql);
        out.reset(s);
    };
    std::unique_ptr<sqlite3_stmt, stmt_finalizer> last;
    prepare("SELECT coalesce(max(rowid), 0) FROM pfo3_tasks", last);
    if (sqlite3_step(last.get()) != SQLITE_ROW) fail("read the last row");
    last_rowid_ = sqlite3_column_int64(last.get(), 0);
    prepare("SELECT rowid, id FROM pfo3_tasks WHERE rowid > ?1 ORDER BY rowid LIMIT 100000", newer_);
    prepare("SELECT 1 FROM pfo3_tasks WHERE id = ?1", present_);
    thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

sqlite_watch::~sqlite_watch() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
}

bool sqlite_watch::poll_once() {
    sqlite3_stmt* s = newer_.get();
    sqlite3_bind_int64(s, 1, last_rowid_);
    std::vector<std::pair<std::string, time_point>> batch;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        last_rowid_ = sqlite3_column_int64(s, 0);
        const auto* id = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
        batch.emplace_back(id ? id : "", std::chrono::steady_clock::now());
    }
    sqlite3_reset(s);
    add(batch);
    if (rc == SQLITE_DONE || rc == SQLITE_BUSY) return true;  // busy: look again next time
    PFO3_LOG(error, "bench: reading the SQLite store failed; results are no longer seen",
             {{"store", path_}, {"error", sqlite3_errmsg(db_.get())}});
    return false;
}

void sqlite_watch::run(const std::stop_token& stop) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    while (!stop.stop_requested()) {
        if (!poll_once()) {
            mark_overflowed();  // the waiter then asks present() for what it misses
            return;
        }
        cv.wait_for(lock, stop, interval_, [] { return false; });
    }
    poll_once();  // what committed up to the stop
}

bool sqlite_watch::present(const std::string& id) const {
    // Only after run() gave up (overflowed): the thread no longer uses the connection.
    sqlite3_stmt* s = present_.get();
    sqlite3_bind_text(s, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
    const bool found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return found;
}

}  // namespace pfo3::bench
