#include "pfo3/json/protocol.hpp"

#include <algorithm>
#include <climits>
#include <utility>

#include "json_detail.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"

namespace pfo3::json {

namespace {

// At most `limit` bytes of client text for an error message, cut on a UTF-8 boundary.
std::string excerpt(std::string_view s, std::size_t limit = 64) {
    if (s.size() <= limit) return std::string(s);
    std::size_t n = limit;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
    return std::string(s.substr(0, n)) + "...";
}

decoded reject(decoded& d, request_error e, std::string message) {
    d.req.reset();
    d.error = e;
    d.message = std::move(message);
    return std::move(d);
}

std::string not_a(std::string_view name, std::string_view wanted, value v) {
    return "\"" + std::string(name) + "\" must be " + std::string(wanted) + ", not " +
           std::string(v.kind_name());
}

// The request's "id" into `out.id` when valid; else what is wrong with it (empty if absent).
std::string read_id(value root, decoded& out) {
    const std::optional<value> id = find_field(root, task_fields::id);
    if (!id) return {};
    if (!id->is(kind::string)) return not_a(task_fields::id.name, "a string", *id);
    if (!is_valid_task_id(id->string())) return "invalid \"id\": must be " + std::string(task_id_rule);
    out.id.assign(id->string());
    return {};
}

// "op" into `which`; else the rejection (an op that is not known is unknown_op).
std::optional<std::pair<request_error, std::string>> read_op(value root, op& which) {
    const std::optional<value> v = root.find("op");
    if (!v) return std::nullopt;
    if (!v->is(kind::string)) return std::pair{request_error::bad_request, not_a("op", "a string", *v)};
    const std::string_view name = v->string();
    if (name == "submit") {
        which = op::submit;
    } else if (name == "ping") {
        which = op::ping;
    } else if (name == "status") {
        which = op::status;
    } else if (name == "cancel") {
        which = op::cancel;
    } else if (name == "auth") {
        which = op::auth;
    } else if (name == "dead_list") {
        which = op::dead_list;
    } else if (name == "dead_requeue") {
        which = op::dead_requeue;
    } else if (name == "dead_purge") {
        which = op::dead_purge;
    } else {
        return std::pair{request_error::unknown_op,
                         "unknown op \"" + excerpt(name) +
                             "\" (expected submit, ping, status, cancel, auth, dead_list, dead_requeue or dead_purge)"};
    }
    return std::nullopt;
}

// A cancel's optional "reason" into `r`; else what is wrong.
std::string read_reason(value root, request& r) {
    if (r.kind != op::cancel) return {};
    const std::optional<value> v = root.find("reason");
    if (!v) return {};
    if (!v->is(kind::string)) return not_a("reason", "a string", *v);
    if (v->string().size() > max_reason_bytes)
        return "\"reason\" must be at most " + std::to_string(max_reason_bytes) + " bytes";
    r.reason.assign(v->string());
    return {};
}

// "run_at" or "delay_s", and "priority", into `r`; else what is wrong.
std::string read_schedule(value root, const request_limits& limits, request& r) {
    namespace f = task_fields;
    const std::optional<value> at = find_field(root, f::run_at);
    const std::optional<value> delay = find_field(root, f::delay_s);
    if (at && delay) return "give \"run_at\" or \"delay_s\", not both";
    if (at) {
        if (!at->is(kind::string)) return not_a(f::run_at.name, "an RFC 3339 time", *at);
        r.run_at = parse_rfc3339(at->string());
        if (!r.run_at)
            return "invalid \"run_at\": must be an RFC 3339 time like 2026-12-06T10:00:00Z, got \"" +
                   excerpt(at->string()) + "\"";
    }
    if (delay) {
        const std::int64_t limit = std::clamp<std::int64_t>(limits.max_delay_s, 0, f::delay_s.max);
        const std::optional<std::int64_t> s = integer_in(*delay, 0, INT64_MAX);
        if (!s) return integer_problem(f::delay_s.name, 0, limit);
        if (*s > limit)
            return "\"delay_s\" must be at most " + std::to_string(limit) + " (the server's [schedule] max_delay_s), got " +
                   std::to_string(*s);
        r.delay_s = *s;
    }
    if (const std::optional<value> p = find_field(root, f::priority)) {
        const int limit = std::clamp(limits.max_priority, 0, static_cast<int>(f::priority.max));
        const std::optional<std::int64_t> n = integer_in(*p, 0, f::priority.max);
        if (!n) return integer_problem(f::priority.name, 0, f::priority.max);
        if (*n > limit)
            return limit == 0 ? "\"priority\" is off on this server ([amqp] max_priority = 0)"
                              : "\"priority\" must be at most " + std::to_string(limit) +
                                    " (the server's [amqp] max_priority), got " + std::to_string(*n);
        r.priority = static_cast<int>(*n);
    }
    return {};
}

// The fields of a dead_list, dead_requeue or dead_purge into `r`; else what is wrong. Which
// letters an action takes is always said: ids, or "all":true, never both and never neither.
std::string read_dead(value root, request& r) {
    const std::string_view name = r.kind == op::dead_list ? "dead_list" : r.kind == op::dead_requeue ? "dead_requeue" : "dead_purge";
    r.limit = r.kind == op::dead_list ? 100 : max_dead_limit;
    if (const std::optional<value> v = root.find("limit")) {
        if (r.kind == op::dead_purge) return "\"limit\" is not a field of op \"dead_purge\"";
        const std::optional<std::int64_t> n = integer_in(*v, 1, static_cast<std::int64_t>(max_dead_limit));
        if (!n) return integer_problem("limit", 1, static_cast<std::int64_t>(max_dead_limit));
        r.limit = static_cast<std::size_t>(*n);
    }
    if (r.kind == op::dead_list) return {};
    const std::optional<value> all = root.find("all");
    const std::optional<value> ids = root.find("ids");
    if (all && (!all->is(kind::boolean) || !all->boolean())) return "\"all\" must be true when given";
    if (all && ids) return "give \"ids\" or \"all\":true, not both";
    if (!all && !ids) return "missing \"ids\" or \"all\":true for op \"" + std::string(name) + "\"";
    if (all) {
        r.all = true;
        return {};
    }
    if (!ids->is(kind::array)) return not_a("ids", "an array of task ids", *ids);
    if (ids->size() == 0 || ids->size() > max_dead_ids)
        return "\"ids\" must hold 1 to " + std::to_string(max_dead_ids) + " task ids, not " + std::to_string(ids->size());
    r.ids.reserve(ids->size());
    for (std::size_t i = 0; i < ids->size(); ++i) {
        const value id = (*ids)[i];
        if (!id.is(kind::string)) return not_a("ids[" + std::to_string(i) + "]", "a string", id);
        if (!is_valid_task_id(id.string()))
            return "invalid \"ids[" + std::to_string(i) + "]\": must be " + std::string(task_id_rule);
        r.ids.emplace_back(id.string());
    }
    return {};
}

// "token" into `r.token`; else what is wrong with it. The token itself is never quoted back.
std::string read_token(value root, request& r) {
    const std::optional<value> v = root.find("token");
    if (!v) return {};
    if (!v->is(kind::string)) return not_a("token", "a string", *v);
    if (v->string().empty() || v->string().size() > max_token_bytes)
        return "\"token\" must be 1 to " + std::to_string(max_token_bytes) + " bytes";
    r.token.assign(v->string());
    return {};
}

// The fields of a submit into `r`, each by its rule in the task-field table (a request may ask
// for less than `limits` allow, never more); else the message naming the first broken rule.
std::string read_submit(value root, std::size_t request_bytes, const request_limits& limits, request& r) {
    namespace f = task_fields;
    std::string_view type_name;
    const std::optional<value> type = find_field(root, f::type, &type_name);
    if (!type) return "missing \"type\" (or \"accion\")";
    if (!type->is(kind::string)) return not_a(type_name, "a string", *type);
    if (!is_valid_task_type(type->string()))
        return "invalid \"" + std::string(type_name) + "\": must be " + std::string(task_type_rule);
    r.type.assign(type->string());

    if (const std::optional<value> max = find_field(root, f::max_attempts)) {
        // The operator's limit, never above the table's: the message names the one that bit.
        const int limit = std::clamp(limits.max_attempts, 1, max_attempts_ceiling);
        const std::optional<std::int64_t> asked = integer_in(*max, request_min(f::max_attempts), INT_MAX);
        if (!asked) return integer_problem(f::max_attempts.name, request_min(f::max_attempts), limit);
        if (*asked > limit)
            return "\"max_attempts\" must be at most " + std::to_string(limit) +
                   " (the server's [retry] max_attempts_limit), got " + std::to_string(*asked);
        r.max_attempts = static_cast<int>(*asked);
    }
    if (const std::optional<value> timeout = find_field(root, f::timeout_ms)) {
        const std::optional<std::int64_t> ms = integer_in(*timeout, request_min(f::timeout_ms), f::timeout_ms.max);
        if (!ms) return integer_problem(f::timeout_ms.name, request_min(f::timeout_ms), f::timeout_ms.max);
        r.timeout_ms = *ms;
    }
    if (const std::optional<value> payload = find_field(root, f::payload)) {
        r.payload_json.clear();
        r.payload_json.reserve(request_bytes);  // compact text is rarely longer: one allocation
        payload->append_compact(r.payload_json);
    }
    return read_schedule(root, limits, r);
}

}  // namespace

decoded decode_request(std::string_view bytes, const request_limits& limits) {
    decoded out;
    // Small requests parse without touching the heap for their values.
    char value_buffer[8192];
    rapidjson::MemoryPoolAllocator<> allocator(value_buffer, sizeof value_buffer);
    // Its own stack allocator too: without one the document news one up on every parse.
    rapidjson::CrtAllocator stack_allocator;
    rapidjson::Document doc(&allocator, 1024, &stack_allocator);
    detail::parse_failure why;
    if (!detail::parse_document(doc, bytes, max_request_depth, why))
        return reject(out, request_error::bad_json, detail::describe(why, max_request_depth));
    const value root = detail::value_access::wrap(doc);
    if (!root.is(kind::object))
        return reject(out, request_error::bad_request,
                      "a request must be a JSON object, not " + std::string(root.kind_name()));

    // The id is read first so that every later rejection can name the task; an invalid id is
    // never echoed back.
    std::string id_problem = read_id(root, out);
    request r;
    if (auto problem = read_op(root, r.kind)) return reject(out, problem->first, std::move(problem->second));
    if (std::string problem = read_token(root, r); !problem.empty())
        return reject(out, request_error::bad_request, std::move(problem));
    if (r.kind == op::auth) {
        if (r.token.empty()) return reject(out, request_error::bad_request, "missing \"token\" for op \"auth\"");
        out.req = std::move(r);
        return out;
    }
    if (r.kind == op::ping) {
        out.req = std::move(r);
        return out;
    }
    if (is_dead_letter_op(r.kind)) {
        if (std::string problem = read_dead(root, r); !problem.empty())
            return reject(out, request_error::bad_request, std::move(problem));
        out.req = std::move(r);
        return out;
    }
    if (!id_problem.empty()) return reject(out, request_error::bad_request, std::move(id_problem));
    r.id = out.id;
    if (r.kind == op::status || r.kind == op::cancel) {
        if (r.id.empty())
            return reject(out, request_error::bad_request,
                          std::string("missing \"id\" for op \"") + (r.kind == op::status ? "status" : "cancel") + "\"");
        if (std::string problem = read_reason(root, r); !problem.empty())
            return reject(out, request_error::bad_request, std::move(problem));
    } else if (std::string problem = read_submit(root, bytes.size(), limits, r); !problem.empty()) {
        return reject(out, request_error::bad_request, std::move(problem));
    }
    out.req = std::move(r);
    return out;
}

std::string encode_accepted(std::string_view id) {
    std::string out;
    out.reserve(48 + id.size());
    out.append("{\"ok\":true,\"id\":");
    detail::append_quoted(out, id);
    out.append(",\"status\":\"queued\"}\n");
    return out;
}

std::string encode_scheduled(std::string_view id, std::string_view run_at) {
    std::string out;
    out.reserve(80 + id.size() + run_at.size());
    out.append("{\"ok\":true,\"id\":");
    detail::append_quoted(out, id);
    out.append(",\"status\":\"scheduled\",\"run_at\":");
    detail::append_quoted(out, run_at);
    out.append("}\n");
    return out;
}

std::string encode_cancel_requested(std::string_view id) {
    std::string out;
    out.reserve(64 + id.size());
    out.append("{\"ok\":true,\"id\":");
    detail::append_quoted(out, id);
    out.append(",\"status\":\"cancel_requested\"}\n");
    return out;
}

std::string encode_too_late(std::string_view id, task_status status) {
    std::string out;
    out.reserve(160 + id.size());
    out.append("{\"ok\":false,\"id\":");
    detail::append_quoted(out, id);
    out.append(",\"error\":\"too_late\",\"status\":");
    detail::append_quoted(out, to_string(status));
    out.append(",\"message\":");
    detail::append_quoted(out, "the task is already " + std::string(to_string(status)) + "; nothing was cancelled");
    out.append("}\n");
    return out;
}

std::string encode_rejected(request_error e, std::string_view message, std::string_view id) {
    if (message.empty()) message = default_message(e);
    std::string out;
    out.reserve(64 + id.size() + message.size());
    out.append("{\"ok\":false,");
    if (!id.empty()) {
        out.append("\"id\":");
        detail::append_quoted(out, id);
        out.push_back(',');
    }
    out.append("\"error\":");
    detail::append_quoted(out, wire_code(e));
    out.append(",\"message\":");
    detail::append_quoted(out, message);
    out.append("}\n");
    return out;
}

std::string encode_pong() { return "{\"ok\":true,\"op\":\"pong\"}\n"; }

std::string encode_authenticated(std::string_view principal, const std::vector<std::string_view>& scopes) {
    std::string out = "{\"ok\":true,\"op\":\"auth\",\"principal\":";
    detail::append_quoted(out, principal);
    out.append(",\"scopes\":[");
    for (std::size_t i = 0; i < scopes.size(); ++i) {
        if (i) out.push_back(',');
        detail::append_quoted(out, scopes[i]);
    }
    out.append("]}\n");
    return out;
}

std::string encode_status(std::string_view id, const std::optional<task_record>& record) {
    std::string out;
    out.reserve(96 + id.size() + (record ? record->result_json.size() + record->error.size() : 0));
    out.append("{\"ok\":true,\"id\":");
    detail::append_quoted(out, id);
    out.append(",\"status\":");
    if (!record) {
        out.append("\"pending\",\"result\":null,\"error\":null,\"attempts\":0}\n");
        return out;
    }
    detail::append_quoted(out, to_string(record->status));
    out.append(",\"result\":");
    // The result is JSON text from a store; if it was damaged, the client still gets valid JSON.
    if (record->result_json.empty() || is_valid_json(record->result_json))
        detail::append_raw_one_line(out, record->result_json);
    else
        detail::append_quoted(out, record->result_json);
    out.append(",\"error\":");
    if (record->error.empty())
        out.append("null");
    else
        detail::append_quoted(out, record->error);
    out.append(",\"attempts\":");
    out.append(std::to_string(record->attempts));
    out.append("}\n");
    return out;
}

}  // namespace pfo3::json
