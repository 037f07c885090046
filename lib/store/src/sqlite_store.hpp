#pragma once
// Results as rows of table pfo3_tasks in one SQLite database file on this host (the shipped
// config's store): the same columns and upsert rule as PostgreSQL, in a WAL-mode file that
// several workers and serves of one host share. Private to the store module: open_store() makes it.
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "pfo3/store/result_store.hpp"
#include "sqlite_checkpointer.hpp"

// SQLite's handles, declared as sqlite3.h declares them: this header needs no SQLite include.
typedef struct sqlite3 sqlite3;            // NOLINT(modernize-use-using): SQLite's own declaration
typedef struct sqlite3_stmt sqlite3_stmt;  // NOLINT(modernize-use-using)

namespace pfo3::store {

/// The database file named by a sqlite:///PATH URI: an absolute path, taken literally (no
/// percent-decoding, no query). Throws config_error naming the URI otherwise.
std::string sqlite_path_of(std::string_view uri);

/// PATH (sqlite:///PATH). Writers (workers) open it read-write, create it and its schema if
/// missing, and commit each write() group in one transaction with one fsync of the WAL
/// (synchronous=FULL: a group acked survives power loss). Readers (serve's status threads)
/// open it read-only and never create anything. Several processes share one file: one writer
/// at a time, a writer waits for another up to busy_timeout; readers never wait for writers.
/// Thread-safe (a mutex serialises the calls on the one connection).
class sqlite_store final : public result_store {
public:
    struct options {
        bool read_only = false;
        /// How long a statement waits for another connection's lock before failing with a
        /// retryable service_error: a group of 1000 rows holds the write lock for milliseconds.
        std::chrono::milliseconds busy_timeout{10000};
        /// The largest row (SQLITE_LIMIT_LENGTH); a record beyond it is record_rejected, as
        /// the file and S3 stores reject records of more than 128 MiB.
        int max_record_bytes = 128 << 20;
    };

    /// Opens `path`. Writers create the database and its schema if missing (its directory must
    /// exist); readers open lazily, on the first read, and see no records while no database
    /// exists. Throws service_error, not retryable when no retry can help (a missing or
    /// unwritable directory, a file that is no SQLite database, a schema newer than this release).
    sqlite_store(std::string path, options opts);
    explicit sqlite_store(std::string path) : sqlite_store(std::move(path), options{}) {}
    ~sqlite_store() override;
    sqlite_store(const sqlite_store&) = delete;
    sqlite_store& operator=(const sqlite_store&) = delete;

    /// Upserts the newest record of each id in one transaction, committed (and synced) when it
    /// returns. A row is only updated where may_replace() allows. A record SQLite refuses
    /// (larger than max_record_bytes) throws record_rejected naming it; nothing of the group
    /// is stored then. A reader's write() throws a non-retryable service_error.
    void write(std::span<const task_record> records) override;
    std::optional<task_record> read(std::string_view id) override;
    /// By the partial index pfo3_tasks_cancel_requested (made by writers if missing).
    std::vector<pending_cancel> pending_cancels(std::size_t limit) override;
    std::string describe() const override;

    /// The version of table pfo3_tasks this release creates and understands (PRAGMA user_version).
    static constexpr int schema_version = 1;

private:
    struct db_closer {
        void operator()(sqlite3* db) const noexcept;
    };
    struct stmt_finalizer {
        void operator()(sqlite3_stmt* s) const noexcept;
    };
    using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

    /// SQLite's busy handler: waits in steps of 100 µs (1 ms after 50 tries) up to busy_timeout.
    static int on_busy(void* self, int count) noexcept;
    void open_writer();
    /// false while there is no database, or no schema in it, to read yet.
    bool open_reader();
    void open_connection(int flags);
    int user_version();
    void create_schema();
    stmt_ptr prepare(std::string_view op, std::string_view sql);
    void exec(std::string_view op, const char* sql);
    void step_done(std::string_view op, sqlite3_stmt* stmt);
    void write_rows(std::span<const task_record* const> rows);
    void close() noexcept;
    [[noreturn]] void fail(std::string_view op, int rc, const std::string* record_id = nullptr) const;

    std::string path_;
    options opts_;
    std::mutex mutex_;
    std::chrono::steady_clock::time_point busy_since_;  // on_busy's, under mutex_ (its caller holds it)
    // Writers only; before db_, so the connection whose hook points at it closes first.
    std::unique_ptr<sqlite_checkpointer> checkpointer_;
    // Declared before the statements: they are finalized before the connection closes.
    std::unique_ptr<sqlite3, db_closer> db_;  // guarded by mutex_; null while closed
    stmt_ptr upsert_, select_, begin_, commit_, rollback_;
};

}  // namespace pfo3::store
