// Fuzzes the stored-record codec (the file and S3 stores' format) on arbitrary bytes, which is
// what a damaged or hand-edited record file is: decode_record must never crash, must leave its
// output alone on failure, and a decoded record must survive encode/decode unchanged. The same
// bytes, taken as a handler's result and error text, must either be refused as a result that
// is not JSON or come back from a record as the repaired text.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/text.hpp"
#include "pfo3/json/value.hpp"
#include "record_codec.hpp"

namespace {

using pfo3::fuzz::check;
using pfo3::task_record;
namespace json = pfo3::json;
namespace store = pfo3::store;

bool same(const task_record& a, const task_record& b) {
    return a.id == b.id && a.type == b.type && a.payload_json == b.payload_json &&
           a.status == b.status && a.result_json == b.result_json && a.error == b.error &&
           a.attempts == b.attempts && a.worker == b.worker && a.submitted_at == b.submitted_at &&
           a.started_at == b.started_at && a.finished_at == b.finished_at;
}

task_record sentinel() {
    task_record r;
    r.id = "sentinel";
    r.type = "echo";
    return r;
}

void check_decoded(const task_record& r) {
    check(pfo3::is_valid_task_id(r.id), "decoded an invalid id");
    check(r.attempts >= 0, "decoded negative attempts");
    check(json::is_valid_json(r.payload_json), "decoded payload is not valid JSON");
    check(json::is_valid_json(r.result_json), "decoded result is not valid JSON");
    for (const std::string* s : {&r.type, &r.error, &r.worker, &r.submitted_at, &r.started_at, &r.finished_at})
        check(json::is_valid_utf8(*s), "decoded text is not UTF-8");

    const std::string again = store::encode_record(r);
    task_record back;
    std::string why;
    check(store::decode_record(again, back, why), "a re-encoded record does not decode");
    check(same(r, back), "a record changed on a second trip through the codec");
}

// The input as a handler's output: the result (raw JSON) and the error (text) of a record.
void check_handler_output(std::string_view bytes) {
    task_record r = sentinel();
    r.error.assign(bytes);
    r.result_json.assign(bytes);
    std::string text;
    try {
        text = store::encode_record(r);
    } catch (const std::invalid_argument&) {
        check(!json::is_valid_json(json::valid_utf8(bytes)), "a result that is JSON was refused");
        return;
    }
    task_record back;
    std::string why;
    check(store::decode_record(text, back, why), "an encoded record does not decode");
    check(back.error == json::valid_utf8(bytes), "error text changed beyond the UTF-8 repair");
    std::string why2;
    const auto doc = json::parse(json::valid_utf8(bytes), why2);
    check(doc.has_value(), "an accepted result does not parse");
    check(back.result_json == doc->root().compact(), "a result changed beyond compaction");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    task_record r = sentinel();
    std::string why;
    if (store::decode_record(bytes, r, why)) {
        check(json::is_valid_utf8(bytes), "a record with invalid UTF-8 was decoded");
        check_decoded(r);
    } else {
        check(!why.empty(), "a failed decode without a reason");
        check(same(r, sentinel()), "a failed decode changed its output");
    }
    check_handler_output(bytes);
    return 0;
}
