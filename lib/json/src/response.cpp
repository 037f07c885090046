#include "pfo3/json/response.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace pfo3::json {

namespace {

std::string string_field(const rapidjson::Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

std::optional<response> decode_response(std::string_view line) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(line.data(), line.size());
    if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
    auto ok = doc.FindMember("ok");
    if (ok == doc.MemberEnd() || !ok->value.IsBool()) return std::nullopt;
    response r;
    r.ok = ok->value.GetBool();
    r.id = string_field(doc, "id");
    r.status = string_field(doc, "status");
    r.message = string_field(doc, "message");
    if (r.ok) {
        r.task_error = string_field(doc, "error");
        auto res = doc.FindMember("result");
        if (res != doc.MemberEnd()) {
            rapidjson::StringBuffer buf;
            rapidjson::Writer<rapidjson::StringBuffer> w(buf);
            res->value.Accept(w);
            r.result_json.assign(buf.GetString(), buf.GetSize());
        }
    } else {
        r.error = string_field(doc, "error");
    }
    return r;
}

}  // namespace pfo3::json
