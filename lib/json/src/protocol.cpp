#include "pfo3/json/protocol.hpp"

#include <algorithm>

#include "json_detail.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/text.hpp"
#include "pfo3/core/task_id.hpp"

namespace pfo3::json {

namespace {

using rapidjson::Value;

std::string_view view(const Value& v) noexcept { return {v.GetString(), v.GetStringLength()}; }

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

// The canonical field or, when it is absent, its alias (the teaching system's name).
struct field {
    const Value* value = nullptr;
    std::string_view name;
};

constexpr std::string_view id_rule =
    "must be 1-128 characters of [A-Za-z0-9._:-], not \".\" or \"..\"";

}  // namespace

bool is_valid_task_type(std::string_view type) noexcept {
    if (type.empty() || type.size() > 128) return false;
    for (char c : type) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

decoded decode_request(std::string_view bytes, const request_limits& limits) {
    decoded out;
    // Small requests parse without touching the heap for their values.
    char value_buffer[8192];
    rapidjson::MemoryPoolAllocator<> allocator(value_buffer, sizeof value_buffer);
    rapidjson::Document doc(&allocator);
    detail::parse_failure why;
    if (!detail::parse_document(doc, bytes, max_request_depth, why))
        return reject(out, request_error::bad_json, detail::describe(why, max_request_depth));
    if (!doc.IsObject())
        return reject(out, request_error::bad_request,
                      "a request must be a JSON object, not " + std::string(kind_name(doc)));

    // One pass over the members; with duplicate keys the first one counts.
    const Value* op = nullptr;
    const Value* id = nullptr;
    const Value* max_attempts = nullptr;
    const Value* timeout_ms = nullptr;
    field type, accion, payload, datos;
    for (const auto& m : doc.GetObject()) {
        const std::string_view key = view(m.name);
        auto take = [&](const Value*& slot) {
            if (!slot) slot = &m.value;
        };
        auto take_field = [&](field& f) {
            if (!f.value) f = field{&m.value, key};
        };
        if (key == "op") take(op);
        else if (key == "id") take(id);
        else if (key == "type") take_field(type);
        else if (key == "accion") take_field(accion);
        else if (key == "payload") take_field(payload);
        else if (key == "datos") take_field(datos);
        else if (key == "max_attempts") take(max_attempts);
        else if (key == "timeout_ms") take(timeout_ms);
    }

    request r;
    // The id is read first so that every later rejection can name the task; an invalid id is
    // never echoed back.
    std::string id_problem;
    if (id) {
        if (!id->IsString())
            id_problem = "\"id\" must be a string, not " + std::string(kind_name(*id));
        else if (!is_valid_task_id(view(*id)))
            id_problem = "invalid \"id\": " + std::string(id_rule);
        else
            out.id.assign(view(*id));
    }

    if (op) {
        if (!op->IsString())
            return reject(out, request_error::bad_request,
                          "\"op\" must be a string, not " + std::string(kind_name(*op)));
        const std::string_view name = view(*op);
        if (name == "submit") {
            r.kind = op::submit;
        } else if (name == "ping") {
            r.kind = op::ping;
        } else if (name == "status") {
            r.kind = op::status;
        } else {
            return reject(out, request_error::unknown_op,
                          "unknown op \"" + excerpt(name) + "\" (expected submit, ping or status)");
        }
    }

    if (r.kind == op::ping) {
        out.req = std::move(r);
        return out;
    }
    if (!id_problem.empty()) return reject(out, request_error::bad_request, std::move(id_problem));

    if (r.kind == op::status) {
        if (!id) return reject(out, request_error::bad_request, "missing \"id\" for op \"status\"");
        r.id = out.id;
        out.req = std::move(r);
        return out;
    }

    // submit
    const field& t = type.value ? type : accion;
    if (!t.value) return reject(out, request_error::bad_request, "missing \"type\" (or \"accion\")");
    if (!t.value->IsString())
        return reject(out, request_error::bad_request,
                      "\"" + std::string(t.name) + "\" must be a string, not " +
                          std::string(kind_name(*t.value)));
    if (!is_valid_task_type(view(*t.value)))
        return reject(out, request_error::bad_request,
                      "invalid \"" + std::string(t.name) +
                          "\": must be 1-128 characters of [A-Za-z0-9._:-]");
    if (max_attempts) {
        const int limit = std::clamp(limits.max_attempts, 1, max_attempts_ceiling);
        if (!max_attempts->IsInt() || max_attempts->GetInt() < 1)
            return reject(out, request_error::bad_request,
                          "\"max_attempts\" must be an integer from 1 to " + std::to_string(limit));
        if (max_attempts->GetInt() > limit)
            return reject(out, request_error::bad_request,
                          "\"max_attempts\" must be at most " + std::to_string(limit) +
                              " (the server's [retry] max_attempts_limit), got " +
                              std::to_string(max_attempts->GetInt()));
        r.max_attempts = max_attempts->GetInt();
    }
    if (timeout_ms) {
        if (!timeout_ms->IsInt64() || timeout_ms->GetInt64() < 1 || timeout_ms->GetInt64() > max_timeout_ms)
            return reject(out, request_error::bad_request,
                          "\"timeout_ms\" must be an integer from 1 to " + std::to_string(max_timeout_ms));
        r.timeout_ms = timeout_ms->GetInt64();
    }
    r.type.assign(view(*t.value));
    r.id = out.id;
    if (const field& p = payload.value ? payload : datos; p.value) {
        r.payload_json.clear();
        detail::append_compact(r.payload_json, *p.value);
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
