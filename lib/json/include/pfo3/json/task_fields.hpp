#pragma once
// The rules for a task's fields, written once for everything that reads them from JSON: a
// client's request (SPEC 4.2), a message body (SPEC 5), a dead letter and a stored record
// (SPEC 7). A request asks for what serve will queue, so it meets every rule strictly; a body
// may come from another producer (the teaching distributor) and is read as leniently as the
// rules allow, so that a task with one bad field is still recorded under its id.
#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pfo3/core/task.hpp"
#include "pfo3/json/value.hpp"

namespace pfo3::json {

/// The largest per-task time limit a request or message may carry: one day.
inline constexpr std::int64_t max_timeout_ms = 86'400'000;

/// The longest delay any request may ask for (46 days), whatever [schedule] max_delay_s says:
/// RabbitMQ's x-message-ttl must stay below 2^32 ms.
inline constexpr std::int64_t max_delay_ceiling_s = 4'000'000;

/// The most any request may give as "max_attempts", whatever the operator allows.
using pfo3::max_attempts_ceiling;

/// A task field as JSON carries it.
struct task_field {
    std::string_view name;
    std::string_view alias = {};  ///< the teaching system's name for the field, if any
    std::int64_t min = 0;         ///< integer fields: the range a body or a record may hold
    std::int64_t max = 0;
};

/// The table. An integer field whose range starts at 0 uses 0 for "not given": a request,
/// which can leave the field out instead, must give at least 1 (request_min).
namespace task_fields {
/// is_valid_task_id; a body may also give it as a non-negative integer (body_task_id).
inline constexpr task_field id{"id"};
/// A request's must be is_valid_task_type (serve queues nothing else); a body's any non-empty
/// string, so that a foreign producer's unknown type fails as an unknown type, under its name.
inline constexpr task_field type{"type", "accion"};
/// Any JSON value; absent is null.
inline constexpr task_field payload{"payload", "datos"};
/// A string (serve writes RFC 3339 UTC); absent is empty.
inline constexpr task_field submitted_at{"submitted_at"};
/// The run a body is for, from 1; absent is 1.
inline constexpr task_field attempt{"attempt", {}, 1, INT_MAX};
/// 0: the worker's [retry] max_attempts. A request is further capped by the operator's limit.
inline constexpr task_field max_attempts{"max_attempts", {}, 0, max_attempts_ceiling};
/// 0: the handler's own time limit.
inline constexpr task_field timeout_ms{"timeout_ms", {}, 0, max_timeout_ms};
/// Runs so far, in a stored record.
inline constexpr task_field attempts{"attempts", {}, 0, INT_MAX};
/// Times an operator sent the task back (`pfo3 dead requeue`); absent is 0. In a body and in
/// a stored record: a record of a later requeue replaces any of an earlier one.
inline constexpr task_field requeues{"requeues", {}, 0, INT_MAX - 1};
/// RFC 3339: not to run before (a request's, or serve's from delay_s, in a body); absent: now.
inline constexpr task_field run_at{"run_at"};
/// A request's wait in seconds instead of run_at; never in a body. The range is further capped
/// by [schedule] max_delay_s.
inline constexpr task_field delay_s{"delay_s", {}, 0, max_delay_ceiling_s};
/// AMQP priority; 0: none. A request above [amqp] max_priority is refused.
inline constexpr task_field priority{"priority", {}, 0, 10};
}  // namespace task_fields

/// What the id and type must look like, for error messages.
inline constexpr std::string_view task_id_rule =
    "1-128 characters of [A-Za-z0-9._:-], not \".\" or \"..\"";
inline constexpr std::string_view task_type_rule = "1-128 characters of [A-Za-z0-9._:-]";

/// True for a task type a client may send: task_type_rule.
bool is_valid_task_type(std::string_view type) noexcept;

/// The field `f` of `object` or, when it has none, its alias; `found_as` (if given) is set to
/// the name that was found. The first of duplicate members counts.
std::optional<value> find_field(value object, const task_field& f,
                                std::string_view* found_as = nullptr) noexcept;

/// The smallest value a request may give for `f`: 0 means "not given", so giving it is wrong.
constexpr std::int64_t request_min(const task_field& f) noexcept { return f.min == 0 ? 1 : f.min; }

/// `v` as an integer from min to max; nullopt for anything else, a whole double included.
std::optional<std::int64_t> integer_in(value v, std::int64_t min, std::int64_t max) noexcept;
inline std::optional<std::int64_t> integer_in(value v, const task_field& f) noexcept {
    return integer_in(v, f.min, f.max);
}

/// "\"attempt\" must be an integer >= 1", "\"timeout_ms\" must be an integer from 0 to
/// 86400000": the message for an integer field outside [min, max].
std::string integer_problem(std::string_view name, std::int64_t min, std::int64_t max);

/// A task id as a body carries it: a string, or the decimal text of a non-negative integer
/// from a producer that numbers its tasks. nullopt for any other value. Not yet checked
/// against is_valid_task_id.
std::optional<std::string> body_task_id(value v);

}  // namespace pfo3::json
