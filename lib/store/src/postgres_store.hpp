#pragma once
// Results as rows of table pfo3_tasks in PostgreSQL: the schema, the upsert and the read, in
// SQL over a pg_connection (which owns libpq). Private to the store module: open_store() makes it.
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "pfo3/store/result_store.hpp"
#include "pg_connection.hpp"

namespace pfo3::store {

/// One libpq connection shared by all callers: thread-safe (a mutex serialises every call).
/// A lost connection is re-established on the next call; the failed call throws a retryable
/// service_error, so a caller that retries never acks a result that was not committed.
class postgres_store final : public result_store {
public:
    /// How long a statement may go unanswered before the connection is dropped and the call
    /// throws a retryable service_error: a server that hangs (stopped, or behind a network
    /// that drops packets) must not hold a worker's committer or serve's status reads forever.
    /// As long as S3's whole-request timeout; a group of 1000 rows takes milliseconds.
    static constexpr std::chrono::milliseconds default_answer_timeout{30000};

    /// Connects to `uri` (a libpq connection URI; every libpq parameter passes through) and
    /// creates the schema if missing. Throws service_error: retryable() is false when no retry
    /// can help (bad password, missing database, schema newer than this release).
    explicit postgres_store(std::string uri, std::chrono::milliseconds answer_timeout = default_answer_timeout);
    ~postgres_store() override;
    postgres_store(const postgres_store&) = delete;
    postgres_store& operator=(const postgres_store&) = delete;

    /// Upserts all records in one transaction; returns once it has committed. A row is only
    /// updated where may_replace() allows (the statement's WHERE says it in SQL); an older or
    /// duplicate record changes nothing. Throws record_rejected when the server refuses a
    /// record's values (postgres_record_fault), with its id if the statement held only it.
    void write(std::span<const task_record> records) override;
    std::optional<task_record> read(std::string_view id) override;
    /// By the partial index pfo3_tasks_cancel_requested (made at open when missing).
    std::vector<pending_cancel> pending_cancels(std::size_t limit) override;
    std::string describe() const override;

    /// The version of table pfo3_tasks this release creates and understands.
    static constexpr int schema_version = 2;

private:
    void create_schema();
    void write_rows(std::span<const task_record* const> rows);

    std::mutex mutex_;    // serialises every call: one libpq connection serves them all
    pg_connection conn_;  // guarded by mutex_
};

}  // namespace pfo3::store
