#include "record_codec.hpp"

#include <stdexcept>

#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/task_fields.hpp"
#include "pfo3/json/text.hpp"
#include "pfo3/json/value.hpp"

namespace pfo3::store {

namespace {

namespace fields = json::task_fields;

// A record embeds a payload and a result (each at most json::default_max_depth deep, as
// decode_message and is_valid_json allow) one level down.
constexpr std::size_t max_record_depth = json::default_max_depth + 1;

void put_key(std::string& out, std::string_view key) {
    if (out.size() > 1) out += ',';
    json::append_quoted(out, key);
    out += ':';
}

// A record must stay readable whatever bytes reached it (a foreign producer's payload, a
// handler's stderr), so invalid UTF-8 is repaired rather than refused: json::quote replaces
// it, and in JSON text such bytes can only sit inside strings, so repairing keeps it JSON.
void put_string(std::string& out, std::string_view key, std::string_view v) {
    put_key(out, key);
    json::append_quoted(out, v);
}

void put_raw(std::string& out, std::string_view key, std::string_view text, const task_record& r) {
    if (r.json_checked) {  // checked where it was made (task_record::json_checked)
        put_key(out, key);
        out += text;
        return;
    }
    std::string repaired;
    if (!json::is_valid_utf8(text)) text = repaired = json::valid_utf8(text);
    // Embedding unchecked text would make the whole record unreadable, so the codec checks it.
    if (!json::is_valid_json(text))
        throw std::invalid_argument("record " + r.id + ": " + std::string(key) + " is not valid JSON");
    put_key(out, key);
    out += text;
}

// Reads an optional text field: absent or null is empty; anything else but a string is bad.
bool get_text(json::value obj, std::string_view key, std::string& out, std::string& why) {
    const std::optional<json::value> v = obj.find(key);
    if (!v || v->is(json::kind::null)) {
        out.clear();
        return true;
    }
    if (!v->is(json::kind::string)) {
        why = "field '" + std::string(key) + "' is not a string";
        return false;
    }
    out.assign(v->string());
    return true;
}

}  // namespace

std::string encode_record(const task_record& r) {
    std::string out;
    // Room for the texts and ~200 bytes of keys and numbers: one allocation for most records.
    out.reserve(256 + r.id.size() + r.type.size() + r.payload_json.size() + r.result_json.size() + r.error.size() +
                r.worker.size() + r.submitted_at.size() + r.started_at.size() + r.finished_at.size());
    out += '{';
    put_string(out, fields::id.name, r.id);
    put_string(out, fields::type.name, r.type);
    put_raw(out, fields::payload.name, r.payload_json, r);
    put_string(out, "status", to_string(r.status));
    put_raw(out, "result", r.result_json, r);
    if (r.error.empty()) {
        put_key(out, "error");
        out += "null";
    } else {
        put_string(out, "error", r.error);
    }
    put_key(out, fields::attempts.name);
    out += std::to_string(r.attempts);
    put_string(out, "worker", r.worker);
    put_string(out, fields::submitted_at.name, r.submitted_at);
    put_string(out, "started_at", r.started_at);
    put_string(out, "finished_at", r.finished_at);
    if (r.requeues != 0) {  // absent in records of tasks never requeued, as before the field existed
        put_key(out, fields::requeues.name);
        out += std::to_string(r.requeues);
    }
    out += '}';
    return out;
}

bool decode_record(std::string_view text, task_record& out, std::string& why) {
    if (text.find('\0') != std::string_view::npos) {
        why = "record contains a NUL byte";
        return false;
    }
    const std::optional<json::document> doc = json::parse(text, why, max_record_depth);
    if (!doc) {
        why = "record is not JSON: " + why;
        return false;
    }
    const json::value root = doc->root();
    if (!root.is(json::kind::object)) {
        why = "record is not a JSON object";
        return false;
    }
    task_record r;

    const std::optional<json::value> id = root.find(fields::id.name);
    if (!id || !id->is(json::kind::string)) {
        why = "field 'id' is missing or not a string";
        return false;
    }
    r.id.assign(id->string());
    if (!is_valid_task_id(r.id)) {
        why = "field 'id' is not a valid task id";
        return false;
    }
    if (!get_text(root, fields::type.name, r.type, why)) return false;

    const std::optional<json::value> payload = root.find(fields::payload.name);
    if (!payload) {
        why = "field 'payload' is missing";
        return false;
    }
    r.payload_json = payload->compact();

    const std::optional<json::value> status = root.find("status");
    if (!status || !status->is(json::kind::string)) {
        why = "field 'status' is missing or not a string";
        return false;
    }
    const std::optional<task_status> st = parse_task_status(status->string());
    if (!st) {
        why = "field 'status' is not one of pending, done, failed, dead";
        return false;
    }
    r.status = *st;

    const std::optional<json::value> result = root.find("result");
    if (!result) {
        why = "field 'result' is missing";
        return false;
    }
    r.result_json = result->compact();

    if (!get_text(root, "error", r.error, why)) return false;

    const std::optional<json::value> attempts = root.find(fields::attempts.name);
    const std::optional<std::int64_t> n =
        attempts ? json::integer_in(*attempts, fields::attempts) : std::nullopt;
    if (!n) {
        why = "field 'attempts' is missing or not a non-negative integer";
        return false;
    }
    r.attempts = static_cast<int>(*n);

    if (!get_text(root, "worker", r.worker, why) ||
        !get_text(root, fields::submitted_at.name, r.submitted_at, why) ||
        !get_text(root, "started_at", r.started_at, why) ||
        !get_text(root, "finished_at", r.finished_at, why))
        return false;

    if (const std::optional<json::value> requeues = root.find(fields::requeues.name)) {
        const std::optional<std::int64_t> k = json::integer_in(*requeues, fields::requeues);
        if (!k) {
            why = "field 'requeues' is not a non-negative integer";
            return false;
        }
        r.requeues = static_cast<int>(*k);
    }

    out = std::move(r);
    return true;
}

}  // namespace pfo3::store
