#pragma once
// The PostgreSQL store's connection: the libpq handle, connecting and running statements with a
// bounded wait on the socket, reconnecting, and libpq's one error translator (which failures a
// retry may cure). Private to the store module; the SQL lives in postgres_store.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "pfo3/core/error.hpp"

// libpq's handles, declared as libpq-fe.h declares them: this header needs no libpq include
// path (the unit tests include it), the .cpp files that call libpq include libpq-fe.h.
typedef struct pg_conn PGconn;      // NOLINT(modernize-use-using): libpq's own declaration
typedef struct pg_result PGresult;  // NOLINT(modernize-use-using)

namespace pfo3::store {

/// Frees a statement's result.
struct pg_result_deleter {
    void operator()(PGresult* r) const noexcept;
};
/// A statement's result.
using pg_result_ptr = std::unique_ptr<PGresult, pg_result_deleter>;

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

/// Whether a failed connection's message (libpq's, one line) is TLS refusing the server or
/// this client's own TLS settings: an untrusted or expired certificate, a name it does not hold,
/// a missing CA or key file, a server without TLS under sslmode=require. No retry cures those;
/// a TLS connection the server dropped midway ("SSL SYSCALL error", "unexpected eof") is not one.
bool postgres_tls_refusal(std::string_view message) noexcept;

/// At most one open libpq connection, made when first needed. Not thread-safe: its owner
/// serialises every call (postgres_store holds a mutex around each). Every failure throws a
/// service_error naming the operation and the masked URI, never the password.
class pg_connection {
public:
    /// Checks that libpq can parse `uri` (config_error naming the masked URI otherwise); does
    /// not connect yet. `answer_timeout` bounds every statement (at least 1 ms).
    pg_connection(std::string uri, std::chrono::milliseconds answer_timeout);
    ~pg_connection();
    pg_connection(const pg_connection&) = delete;
    pg_connection& operator=(const pg_connection&) = delete;

    /// The URI with its password masked, for logs and errors.
    const std::string& masked() const noexcept { return masked_; }

    /// Leaves an open connection outside any transaction: keeps the one it has if it is so,
    /// else connects afresh within the URI's connect_timeout (10 s by default). Throws
    /// service_error, not retryable when no retry can help (bad password, missing database).
    void ensure_connected();

    /// Runs one statement on the open connection and returns its result (no rows or some
    /// rows). A refusal throws service_error, or record_rejected when `record_id` is given and
    /// the server refused the values (postgres_record_fault; the id, empty if the statement
    /// held several records); no answer within the answer timeout throws a retryable
    /// service_error with the statement left in flight.
    pg_result_ptr run(std::string_view op, const char* sql, int n_params = 0, const char* const* values = nullptr,
                      const std::string* record_id = nullptr);

    /// Runs f() connected. After a service_error, ends a transaction left open (ROLLBACK) or
    /// drops the connection, and when a reused connection turned out stale (server restarted,
    /// idle timeout) runs f() once more on a fresh one: f's statements must be safe to repeat.
    template <class F>
    auto with_retry(F&& f);

    /// Closes the connection, which also ends its transaction and releases its locks.
    void drop() noexcept { pg_.reset(); }

private:
    struct conn_deleter {
        void operator()(PGconn* c) const noexcept;
    };

    bool is_open() const noexcept;
    /// After a failed f(): rolls back or drops the connection; true when f() may run again.
    bool recover(bool may_retry);

    std::string uri_;
    std::string masked_;
    std::string password_;  // as written in the URI, scrubbed from libpq's messages
    std::chrono::milliseconds answer_timeout_;
    std::unique_ptr<PGconn, conn_deleter> pg_;  // null while disconnected
};

template <class F>
auto pg_connection::with_retry(F&& f) {
    for (int attempt = 0;; ++attempt) {
        const bool reused = is_open();
        ensure_connected();
        try {
            return f();
        } catch (const service_error&) {
            if (!recover(reused && attempt == 0)) throw;
        }
    }
}

}  // namespace pfo3::store
