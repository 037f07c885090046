// Fuzzes json::decode_message on arbitrary bodies (anything a publisher can put in the queue):
// it must never crash; a decoded task must encode to a body that decodes to the same task, and
// a failure must say why and keep only a valid id.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/text.hpp"

namespace {

using pfo3::fuzz::check;
namespace json = pfo3::json;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    pfo3::task t;
    std::string why;
    if (!json::decode_message(body, t, why)) {
        check(!why.empty(), "a failed decode without a reason");
        check(t.id.empty() || pfo3::is_valid_task_id(t.id), "a failed decode kept an invalid id");
        check(json::is_valid_json(json::quote(why)), "the reason cannot be quoted as JSON");
        return 0;
    }
    check(json::is_valid_utf8(body), "a body with invalid UTF-8 was decoded");
    check(pfo3::is_valid_task_id(t.id), "decoded an invalid id");
    check(!t.type.empty(), "decoded an empty type");
    check(t.attempt >= 1, "decoded attempt < 1");
    check(json::is_valid_json(t.payload_json), "decoded payload is not valid JSON");

    const std::string again = json::encode_message(t);
    check(json::is_valid_json(again), "re-encoded body is not valid JSON");
    check(again.find('\n') == std::string::npos, "re-encoded body spans lines");
    pfo3::task back;
    std::string why2;
    check(json::decode_message(again, back, why2), "re-encoded body does not decode");
    check(back.id == t.id && back.type == t.type && back.payload_json == t.payload_json &&
              back.submitted_at == t.submitted_at && back.attempt == t.attempt &&
              back.max_attempts == t.max_attempts,
          "a task changed on a second trip through a message body");
    return 0;
}
