#include "pfo3/json/message.hpp"

#include "json_detail.hpp"
#include "pfo3/core/task_id.hpp"

namespace pfo3::json {

namespace {

using rapidjson::Value;

// Bodies come from our own serve or the teaching distributor, whose payloads were bounded by
// their own checks; this bound only protects the recursive writer from a hostile publisher.
constexpr std::size_t max_message_depth = 256;
// Handler output deeper than this is not treated as JSON, so every later reader of a stored
// result (including recursive parsers) stays bounded.
constexpr std::size_t max_result_depth = 256;

std::string_view view(const Value& v) noexcept { return {v.GetString(), v.GetStringLength()}; }

const Value* member(const Value& obj, std::string_view name) {
    for (const auto& m : obj.GetObject())
        if (view(m.name) == name) return &m.value;
    return nullptr;
}

// Does nothing with the events: is_valid_json only needs the verdict.
struct null_handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, null_handler> {};

}  // namespace

std::string encode_message(const task& t) {
    std::string out;
    out.reserve(96 + t.id.size() + t.type.size() + t.payload_json.size() + t.submitted_at.size());
    out.append("{\"id\":");
    detail::append_quoted(out, t.id);
    out.append(",\"type\":");
    detail::append_quoted(out, t.type);
    out.append(",\"payload\":");
    detail::append_raw_one_line(out, t.payload_json);
    if (!t.submitted_at.empty()) {
        out.append(",\"submitted_at\":");
        detail::append_quoted(out, t.submitted_at);
    }
    out.append(",\"attempt\":");
    out.append(std::to_string(t.attempt));
    if (t.max_attempts != 0) {
        out.append(",\"max_attempts\":");
        out.append(std::to_string(t.max_attempts));
    }
    if (t.timeout_ms != 0) {
        out.append(",\"timeout_ms\":");
        out.append(std::to_string(t.timeout_ms));
    }
    if (t.requeues != 0) {
        out.append(",\"requeues\":");
        out.append(std::to_string(t.requeues));
    }
    out.push_back('}');
    return out;
}

bool decode_message(std::string_view body, task& out, std::string& why) {
    out = task{};
    char value_buffer[8192];
    rapidjson::MemoryPoolAllocator<> allocator(value_buffer, sizeof value_buffer);
    rapidjson::Document doc(&allocator);
    detail::parse_failure failure;
    if (!detail::parse_document(doc, body, max_message_depth, failure)) {
        why = "message body: " + detail::describe(failure, max_message_depth);
        return false;
    }
    if (!doc.IsObject()) {
        why = "message body is not a JSON object";
        return false;
    }

    // The id first, so a failure below can still be recorded under it.
    const Value* id = member(doc, "id");
    if (!id) {
        why = "message body has no \"id\"";
        return false;
    }
    if (id->IsString()) {
        out.id.assign(view(*id));
    } else if (id->IsUint64()) {
        out.id = std::to_string(id->GetUint64());  // tolerate a numeric id from other producers
    } else {
        why = "message \"id\" must be a string";
        return false;
    }
    if (!is_valid_task_id(out.id)) {
        why = "message \"id\" must be 1-128 characters of [A-Za-z0-9._:-], not \".\" or \"..\"";
        out.id.clear();
        return false;
    }

    const char* type_name = "type";
    const Value* type = member(doc, "type");
    if (!type) {
        type_name = "accion";
        type = member(doc, "accion");
    }
    if (!type) {
        why = "message body has no \"type\" (or \"accion\")";
        return false;
    }
    if (!type->IsString() || type->GetStringLength() == 0) {
        why = std::string("message \"") + type_name + "\" must be a non-empty string";
        return false;
    }
    out.type.assign(view(*type));

    const Value* payload = member(doc, "payload");
    if (!payload) payload = member(doc, "datos");
    if (payload) {
        out.payload_json.clear();
        detail::append_compact(out.payload_json, *payload);
    }

    if (const Value* at = member(doc, "submitted_at")) {
        if (!at->IsString()) {
            why = "message \"submitted_at\" must be a string";
            return false;
        }
        out.submitted_at.assign(view(*at));
    }
    if (const Value* attempt = member(doc, "attempt")) {
        if (!attempt->IsInt() || attempt->GetInt() < 1) {
            why = "message \"attempt\" must be an integer >= 1";
            return false;
        }
        out.attempt = attempt->GetInt();
    }
    if (const Value* max = member(doc, "max_attempts")) {
        if (!max->IsInt() || max->GetInt() < 0 || max->GetInt() > 1000) {
            why = "message \"max_attempts\" must be an integer from 0 to 1000";
            return false;
        }
        out.max_attempts = max->GetInt();
    }
    if (const Value* limit = member(doc, "timeout_ms")) {
        if (!limit->IsInt64() || limit->GetInt64() < 0 || limit->GetInt64() > max_timeout_ms) {
            why = "message \"timeout_ms\" must be an integer from 0 to " + std::to_string(max_timeout_ms);
            return false;
        }
        out.timeout_ms = limit->GetInt64();
    }
    if (const Value* requeues = member(doc, "requeues")) {
        if (!requeues->IsInt() || requeues->GetInt() < 0) {
            why = "message \"requeues\" must be an integer >= 0";
            return false;
        }
        out.requeues = requeues->GetInt();
    }
    return true;
}

bool is_valid_json(std::string_view text) {
    rapidjson::Reader reader;
    null_handler handler;
    detail::parse_failure failure;
    return detail::parse_sax(reader, text, handler, max_result_depth, failure);
}

std::string quote(std::string_view s) {
    std::string out;
    detail::append_quoted(out, s);
    return out;
}

}  // namespace pfo3::json
