#pragma once
// Sees results arrive in a local SQLite store, for `pfo3 bench --store sqlite:///FILE`: a
// private thread polls a read-only connection every few ms for rows added since its last look
// (rowid order) and notes when it saw each. A row is visible only once its group committed,
// so this is "stored" as the worker acks it; the time is late by up to one poll interval.
// Rows are new ids: a record that replaces another keeps its rowid and is not seen again.
#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>

#include "result_watch.hpp"

typedef struct sqlite3 sqlite3;            // NOLINT(modernize-use-using): SQLite's own declaration
typedef struct sqlite3_stmt sqlite3_stmt;  // NOLINT(modernize-use-using)

namespace pfo3::bench {

class sqlite_watch final : public result_watch {
public:
    /// Opens `path` read-only (the workers must have created it: they do at start) and starts
    /// polling every `interval`; rows already there are not reported. Throws service_error
    /// naming the file.
    sqlite_watch(std::string path, std::chrono::steady_clock::time_point start, std::chrono::microseconds interval);
    /// Stops the thread.
    ~sqlite_watch() override;

    bool present(const std::string& id) const override;

private:
    struct db_closer {
        void operator()(sqlite3* db) const noexcept;
    };
    struct stmt_finalizer {
        void operator()(sqlite3_stmt* s) const noexcept;
    };

    void run(const std::stop_token& stop);
    /// Reads the rows after last_rowid_ into the events; false on a failure (logged).
    bool poll_once();

    std::chrono::microseconds interval_;
    std::string path_;
    std::unique_ptr<sqlite3, db_closer> db_;
    std::unique_ptr<sqlite3_stmt, stmt_finalizer> newer_;    // used by the thread only
    std::unique_ptr<sqlite3_stmt, stmt_finalizer> present_;  // used after the thread stopped polling
    long long last_rowid_ = 0;
    std::jthread thread_;  // last: stopped and joined before the handles close
};

}  // namespace pfo3::bench
