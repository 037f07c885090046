#pragma once
// The task as it travels (task) and as it is stored (task_record).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pfo3 {

/// The most attempts any task may have, whatever a request or the config asks for: the one
/// ceiling the message format, the protocol and the config rules all apply.
inline constexpr int max_attempts_ceiling = 1000;

/// One unit of work, as carried in a RabbitMQ message body (SPEC section 5).
struct task {
    std::string id;
    std::string type;
    std::string payload_json = "null";  ///< the payload as JSON text, exactly as received
    std::string submitted_at;           ///< RFC 3339, UTC
    int attempt = 1;                    ///< 1 for the first run
    int max_attempts = 0;               ///< 0: the worker's [retry] max_attempts
    std::int64_t timeout_ms = 0;        ///< time limit of one run; 0: the handler's own
    int requeues = 0;                   ///< times an operator sent it back (`pfo3 dead requeue`)
    std::string run_at;                 ///< RFC 3339 UTC: not to run before; empty: now
    int priority = 0;                   ///< AMQP priority, 0 (none) .. 10
};

/// Where a task stands. `pending` is never stored: it means "no record yet". `scheduled`: serve
/// accepted it with a later run_at; `cancel_requested`: an operator asked to cancel it and no
/// worker has settled that yet; `cancelled`: it will never run (again).
enum class task_status { pending, done, failed, dead, scheduled, cancel_requested, cancelled };

/// Every status, for code that must cover them all (the PostgreSQL upsert, tests).
inline constexpr task_status all_task_statuses[] = {
    task_status::pending,   task_status::done,   task_status::failed,   task_status::dead,
    task_status::scheduled, task_status::cancel_requested, task_status::cancelled};

/// done, dead and cancelled never change again (within one requeue).
bool is_final(task_status s) noexcept;

/// "pending", "done", "failed", "dead", "scheduled", "cancel_requested" or "cancelled".
std::string_view to_string(task_status s) noexcept;
/// The inverse of to_string; nullopt for anything else.
std::optional<task_status> parse_task_status(std::string_view s) noexcept;

/// The stored outcome of a task (SPEC section 7).
struct task_record {
    std::string id;
    std::string type;
    std::string payload_json = "null";
    task_status status = task_status::done;
    std::string result_json = "null";  ///< JSON text
    std::string error;                 ///< empty: no error
    int attempts = 1;
    std::string worker;                ///< host:pid of the worker that stored it
    std::string submitted_at;
    std::string started_at;
    std::string finished_at;
    int requeues = 0;                  ///< the task's requeue count when this record was made
    /// payload_json and result_json are JSON text pfo3 parsed or wrote itself (the worker's
    /// records: decode_message, the built-ins, an external handler's checked output), valid
    /// UTF-8 within json::default_max_depth: a store need not parse them again. Never stored.
    bool json_checked = false;
};

/// Whether a store holding `stored` may replace it by `incoming`: records only move forward.
/// A record of a later requeue (an operator sent the task back) replaces any record of an
/// earlier one, a final record included, and is never replaced by one. Within one requeue:
/// never over a final record (done, dead, cancelled); a cancel (cancel_requested, cancelled)
/// replaces any record that is not final, whatever its attempt; over `cancel_requested` only
/// a final record or the same request again; otherwise when `incoming` is of a later attempt,
/// or of the same attempt and at least as far along (scheduled before failed before final).
/// Every store applies this rule, so a late write of an older attempt (a retry that overtook
/// its own `failed` record, a worker whose ack was lost, serve's `scheduled` written after a
/// short delay already ran) changes nothing, and a pending cancel is never lost to a `failed`.
bool may_replace(const task_record& stored, const task_record& incoming) noexcept;

}  // namespace pfo3
