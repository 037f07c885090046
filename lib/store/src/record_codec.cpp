#include "pfo3/store/record_codec.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <stdexcept>

#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/text.hpp"

namespace pfo3::store {

namespace {

using writer_t = rapidjson::Writer<rapidjson::StringBuffer>;

// The type RapidJSON's Writer wants for a raw value, read from its first character; the
// text is known to be valid JSON by then.
rapidjson::Type raw_type(std::string_view json) {
    auto i = json.find_first_not_of(" \t\r\n");
    if (i == std::string_view::npos) return rapidjson::kNullType;
    switch (json[i]) {
    case '{': return rapidjson::kObjectType;
    case '[': return rapidjson::kArrayType;
    case '"': return rapidjson::kStringType;
    case 't': return rapidjson::kTrueType;
    case 'f': return rapidjson::kFalseType;
    case 'n': return rapidjson::kNullType;
    default: return rapidjson::kNumberType;
    }
}

// A record must stay readable whatever bytes reached it (a foreign producer's payload, a
// handler's stderr), so invalid UTF-8 is repaired rather than refused. In JSON text such
// bytes can only sit inside strings, so the repair keeps the text valid JSON.
std::string_view repaired(std::string_view s, std::string& storage) {
    if (json::is_valid_utf8(s)) return s;
    storage = json::valid_utf8(s);
    return storage;
}

void put_raw(writer_t& w, const char* key, std::string_view text, const task_record& r) {
    std::string storage;
    text = repaired(text, storage);
    // Embedding unchecked text would make the whole record unreadable, so the codec checks it.
    if (!json::is_valid_json(text))
        throw std::invalid_argument("record " + r.id + ": " + key + " is not valid JSON");
    w.Key(key);
    w.RawValue(text.data(), text.size(), raw_type(text));
}

void put_string(writer_t& w, const char* key, std::string_view v) {
    std::string storage;
    v = repaired(v, storage);
    w.Key(key);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

std::string to_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    return {buf.GetString(), buf.GetSize()};
}

// Reads an optional text field: absent or null is empty; anything else but a string is bad.
bool get_text(const rapidjson::Value& obj, const char* key, std::string& out, std::string& why) {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || it->value.IsNull()) {
        out.clear();
        return true;
    }
    if (!it->value.IsString()) {
        why = std::string("field '") + key + "' is not a string";
        return false;
    }
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
}

}  // namespace

std::string encode_record(const task_record& r) {
    rapidjson::StringBuffer buf;
    writer_t w(buf);
    w.StartObject();
    put_string(w, "id", r.id);
    put_string(w, "type", r.type);
    put_raw(w, "payload", r.payload_json, r);
    put_string(w, "status", to_string(r.status));
    put_raw(w, "result", r.result_json, r);
    if (r.error.empty()) {
        w.Key("error");
        w.Null();
    } else {
        put_string(w, "error", r.error);
    }
    w.Key("attempts");
    w.Int(r.attempts);
    put_string(w, "worker", r.worker);
    put_string(w, "submitted_at", r.submitted_at);
    put_string(w, "started_at", r.started_at);
    put_string(w, "finished_at", r.finished_at);
    if (r.requeues != 0) {  // absent in records of tasks never requeued, as before the field existed
        w.Key("requeues");
        w.Int(r.requeues);
    }
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
}

bool decode_record(std::string_view text, task_record& out, std::string& why) {
    if (text.find('\0') != std::string_view::npos) {
        why = "record contains a NUL byte";
        return false;
    }
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseFullPrecisionFlag>(
        text.data(), text.size());
    if (doc.HasParseError()) {
        why = std::string("not valid JSON at offset ") + std::to_string(doc.GetErrorOffset()) + ": " +
              rapidjson::GetParseError_En(doc.GetParseError());
        return false;
    }
    if (!doc.IsObject()) {
        why = "record is not a JSON object";
        return false;
    }
    task_record r;

    auto id = doc.FindMember("id");
    if (id == doc.MemberEnd() || !id->value.IsString()) {
        why = "field 'id' is missing or not a string";
        return false;
    }
    r.id.assign(id->value.GetString(), id->value.GetStringLength());
    if (!is_valid_task_id(r.id)) {
        why = "field 'id' is not a valid task id";
        return false;
    }
    if (!get_text(doc, "type", r.type, why)) return false;

    auto payload = doc.FindMember("payload");
    if (payload == doc.MemberEnd()) {
        why = "field 'payload' is missing";
        return false;
    }
    r.payload_json = to_json(payload->value);

    auto status = doc.FindMember("status");
    if (status == doc.MemberEnd() || !status->value.IsString()) {
        why = "field 'status' is missing or not a string";
        return false;
    }
    auto st = parse_task_status({status->value.GetString(), status->value.GetStringLength()});
    if (!st) {
        why = "field 'status' is not one of pending, done, failed, dead";
        return false;
    }
    r.status = *st;

    auto result = doc.FindMember("result");
    if (result == doc.MemberEnd()) {
        why = "field 'result' is missing";
        return false;
    }
    r.result_json = to_json(result->value);

    if (!get_text(doc, "error", r.error, why)) return false;

    auto attempts = doc.FindMember("attempts");
    if (attempts == doc.MemberEnd() || !attempts->value.IsInt() || attempts->value.GetInt() < 0) {
        why = "field 'attempts' is missing or not a non-negative integer";
        return false;
    }
    r.attempts = attempts->value.GetInt();

    if (!get_text(doc, "worker", r.worker, why) ||
        !get_text(doc, "submitted_at", r.submitted_at, why) ||
        !get_text(doc, "started_at", r.started_at, why) ||
        !get_text(doc, "finished_at", r.finished_at, why))
        return false;

    if (auto requeues = doc.FindMember("requeues"); requeues != doc.MemberEnd()) {
        if (!requeues->value.IsInt() || requeues->value.GetInt() < 0) {
            why = "field 'requeues' is not a non-negative integer";
            return false;
        }
        r.requeues = requeues->value.GetInt();
    }

    out = std::move(r);
    return true;
}

}  // namespace pfo3::store
