#pragma once
// Results as rows of table pfo3_tasks in PostgreSQL, through libpq. Private to the store module:
// open_store() makes it.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "pfo3/store/result_store.hpp"

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
    std::string describe() const override;

    /// The version of table pfo3_tasks this release creates and understands.
    static constexpr int schema_version = 1;

private:
    struct connection;  // the libpq handle, defined in postgres_store.cpp

    connection& connected();
    void create_schema(connection& c);
    void write_rows(connection& c, std::span<const task_record* const> rows);
    /// Runs f(connection) under the mutex, reconnecting first if needed.
    template <class F>
    auto with_connection(F&& f);

    std::string uri_;
    std::string masked_;
    std::string password_;  // as written in the URI, scrubbed from libpq's messages
    std::chrono::milliseconds answer_timeout_;
    std::mutex mutex_;
    std::unique_ptr<connection> conn_;  // null while disconnected
};

/// Whether an operation that failed with `sqlstate` (empty if the server sent none) may work
/// when tried again: lost connections, shutdowns, serialization failures and deadlocks may;
/// authentication, missing databases, SQL and data errors never will.
bool postgres_retryable(std::string_view sqlstate, bool connection_ok) noexcept;

/// Whether a write refused with `sqlstate` was refused for the values of its records, not for
/// the server's state: data exceptions (class 22: a number or time out of range, a text the
/// column cannot hold), constraints (class 23) and limits (class 54, a value too large).
bool postgres_record_fault(std::string_view sqlstate) noexcept;

/// The SQLSTATE in a libpq message written with PQERRORS_VERBOSE ("FATAL:  28P01: …"), or
/// empty. libpq offers no other way to learn the code of a failed connection attempt.
std::string_view sqlstate_in_message(std::string_view message) noexcept;

}  // namespace pfo3::store
