#pragma once
// The client protocol (SPEC 4.2-4.3): decoding one framed request, encoding responses.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pfo3/core/task.hpp"
#include "pfo3/json/task_fields.hpp"

namespace pfo3::json {

/// Arrays/objects nested deeper than this (the request object is level 1) are bad_json; the
/// server's framer uses the same bound so it can reject them before buffering.
inline constexpr std::size_t max_request_depth = 64;

/// What the operator lets a client ask for (from [retry] and friends).
struct request_limits {
    int max_attempts = 25;  ///< [retry] max_attempts_limit; 1..max_attempts_ceiling
    std::int64_t max_delay_s = 2'592'000;  ///< [schedule] max_delay_s; "delay_s" above it is refused
    int max_priority = 0;                  ///< [amqp] max_priority; 0: "priority" is refused
};

/// The operation a request asks for.
enum class op { submit, ping, status, cancel, auth, dead_list, dead_requeue, dead_purge };

/// True for the ops on `<queue>.dead` (dead_list, dead_requeue, dead_purge).
constexpr bool is_dead_letter_op(op k) { return k == op::dead_list || k == op::dead_requeue || k == op::dead_purge; }

/// Most ids a dead_requeue or dead_purge may name.
inline constexpr std::size_t max_dead_ids = 1000;
/// Highest "limit" of a dead_list (letters listed) or dead_requeue (letters moved per request).
inline constexpr std::size_t max_dead_limit = 1000;

/// A decoded, validated request.
struct request {
    op kind = op::submit;
    std::string id;            ///< submit: client id or empty (server makes one); status: the id
    std::string type;          ///< submit: task type ("type" or alias "accion"), non-empty
    std::string payload_json = "null";  ///< submit: "payload"/"datos" re-serialised compactly
    int max_attempts = 0;      ///< submit: 0 = not given; else 1..request_limits::max_attempts
    std::int64_t timeout_ms = 0;  ///< submit: 0 = not given; else 1..max_timeout_ms
    /// submit: "run_at" as given (any time, past ones too; serve checks max_delay_s against it).
    std::optional<std::chrono::system_clock::time_point> run_at;
    std::int64_t delay_s = 0;  ///< submit: "delay_s", 0..request_limits::max_delay_s (never with run_at)
    int priority = 0;          ///< submit: 0..request_limits::max_priority
    std::string reason;        ///< cancel: why (optional, at most max_reason_bytes)
    /// dead_list: letters to list; dead_requeue: most letters to move (both 1..max_dead_limit).
    std::size_t limit = 0;
    std::vector<std::string> ids;  ///< dead_requeue, dead_purge: these task ids (never with all)
    bool all = false;              ///< dead_requeue, dead_purge: every dead letter
    /// auth: the token; any other op: its own "token" (empty: none), for this request only.
    std::string token;
};

/// The longest "reason" a cancel may give.
inline constexpr std::size_t max_reason_bytes = 500;

/// A token longer than this is bad_request (real ones are 48 characters).
inline constexpr std::size_t max_token_bytes = 512;

/// Either a request or the reason it was rejected.
struct decoded {
    std::optional<request> req;
    request_error error = request_error::bad_request;  ///< when !req
    std::string message;                               ///< human text when !req
    std::string id;  ///< when !req: the request's "id" if it had a valid one, for the reply
};

/// Decodes one framed JSON value. Strict: invalid UTF-8 and non-object values are rejected,
/// unknown fields are ignored (for forward compatibility), `op` defaults to submit. A client may
/// ask for less than `limits` allow, never more: above them the request is bad_request naming
/// the limit.
decoded decode_request(std::string_view bytes, const request_limits& limits = {});

/// {"ok":true,"id":ID,"status":"queued"}\n
std::string encode_accepted(std::string_view id);
/// {"ok":true,"id":ID,"status":"scheduled","run_at":RUN_AT}\n
std::string encode_scheduled(std::string_view id, std::string_view run_at);
/// {"ok":true,"id":ID,"status":"cancel_requested"}\n
std::string encode_cancel_requested(std::string_view id);
/// {"ok":false,"id":ID,"error":"too_late","status":STATUS,"message":…}\n
std::string encode_too_late(std::string_view id, task_status status);
/// {"ok":false,"id":ID?,"error":CODE,"message":TEXT}\n (id omitted when empty)
std::string encode_rejected(request_error e, std::string_view message, std::string_view id = {});
/// {"ok":true,"op":"pong"}\n
std::string encode_pong();
/// {"ok":true,"op":"auth","principal":NAME,"scopes":[...]}\n
std::string encode_authenticated(std::string_view principal, const std::vector<std::string_view>& scopes);
/// {"ok":true,"id":…,"status":…,"result":…,"error":…,"attempts":N}\n; record == nullopt
/// gives status "pending", result null, error null, attempts 0.
std::string encode_status(std::string_view id, const std::optional<task_record>& record);

}  // namespace pfo3::json
