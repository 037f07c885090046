// Fuzzes json::decode_request on arbitrary bytes. Whatever it decides, the answer the server
// would send must be one valid JSON line; an accepted submit must survive the trip into a
// RabbitMQ message body and back unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/json/text.hpp"

namespace {

using pfo3::fuzz::check;
using pfo3::fuzz::is_json_line;
namespace json = pfo3::json;

void check_response(const std::string& line, bool ok) {
    check(is_json_line(line), "a response is not one valid JSON line");
    const auto r = json::decode_response(line);
    check(r.has_value(), "a response does not decode as a response");
    check(r->ok == ok, "a response decodes with the wrong ok");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const json::decoded d = json::decode_request(bytes);

    if (!d.req) {
        check(!d.message.empty(), "a rejection without a message");
        check(d.id.empty() || pfo3::is_valid_task_id(d.id), "a rejection echoes an invalid id");
        check_response(json::encode_rejected(d.error, d.message, d.id), false);
        return 0;
    }
    check(json::is_valid_utf8(bytes), "a request with invalid UTF-8 was accepted");
    const json::request& req = *d.req;
    switch (req.kind) {
    case json::op::ping:
        check_response(json::encode_pong(), true);
        break;
    case json::op::status: {
        check(pfo3::is_valid_task_id(req.id), "status with an invalid id");
        check_response(json::encode_status(req.id, std::nullopt), true);
        // A record built from the request's own bytes (as a hostile store might hold).
        pfo3::task_record rec;
        rec.id = req.id;
        rec.result_json = std::string(bytes);
        rec.error = std::string(bytes);
        rec.status = pfo3::task_status::dead;
        check_response(json::encode_status(req.id, rec), true);
        break;
    }
    case json::op::dead_list:
    case json::op::dead_requeue:
    case json::op::dead_purge:
        check(req.limit >= 1 && req.limit <= json::max_dead_limit, "a dead-letter limit out of range");
        check(req.kind == json::op::dead_list || req.all != !req.ids.empty(), "a dead-letter op with ids and all, or neither");
        check(req.ids.size() <= json::max_dead_ids, "too many dead-letter ids");
        for (const auto& id : req.ids) check(pfo3::is_valid_task_id(id), "a dead-letter op with an invalid id");
        break;
    case json::op::submit: {
        check(req.id.empty() || pfo3::is_valid_task_id(req.id), "submit with an invalid id");
        check(json::is_valid_task_type(req.type), "submit with an invalid type");
        check(req.max_attempts >= 0 && req.max_attempts <= 1000, "max_attempts out of range");
        check(json::is_valid_json(req.payload_json), "payload is not valid JSON");
        check(req.payload_json.find('\n') == std::string::npos, "payload spans lines");
        check_response(json::encode_accepted(req.id.empty() ? "x" : req.id), true);

        pfo3::task t;
        t.id = req.id.empty() ? pfo3::make_task_id() : req.id;
        t.type = req.type;
        t.payload_json = req.payload_json;
        t.submitted_at = "2024-01-02T03:04:05.678Z";
        t.max_attempts = req.max_attempts;
        const std::string body = json::encode_message(t);
        pfo3::task back;
        std::string why;
        check(json::decode_message(body, back, why), "an accepted task's message does not decode");
        check(back.id == t.id && back.type == t.type && back.payload_json == t.payload_json &&
                  back.submitted_at == t.submitted_at && back.attempt == 1 &&
                  back.max_attempts == t.max_attempts,
              "an accepted task changed on its way through a message body");
        break;
    }
    }
    return 0;
}
