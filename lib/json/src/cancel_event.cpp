#include "pfo3/json/cancel_event.hpp"

#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/value.hpp"

namespace pfo3::json {

namespace {

// An id and a reason of at most 500 bytes, with room for the prefix and escapes.
constexpr std::size_t max_event_bytes = 8192;

}  // namespace

std::string encode_cancel_event(const cancel_event& e) {
    return "{\"kind\":\"cancel\",\"id\":" + quote(e.id) + ",\"error\":" + quote(e.why) + "}";
}

bool decode_cancel_event(std::string_view body, cancel_event& out, std::string& why_bad) {
    if (body.size() > max_event_bytes) {
        why_bad = "larger than any cancel event";
        return false;
    }
    auto doc = parse(body, why_bad, 4);
    if (!doc) return false;
    const auto root = doc->root();
    auto kind = root.find("kind");
    auto id = root.find("id");
    auto error = root.find("error");
    if (!kind || !kind->is(json::kind::string) || kind->string() != "cancel") {
        why_bad = "not a cancel event";
        return false;
    }
    if (!id || !id->is(json::kind::string) || !is_valid_task_id(id->string())) {
        why_bad = "no valid task id";
        return false;
    }
    out.id = std::string(id->string());
    out.why = error && error->is(json::kind::string) ? std::string(error->string()) : std::string("cancel requested");
    return true;
}

}  // namespace pfo3::json
