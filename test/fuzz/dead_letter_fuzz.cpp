// Fuzzes the dead-letter codec of `pfo3 dead` on arbitrary bodies (a dead letter may hold any
// bytes a publisher sent): nothing may crash; `dead list --json` always gets one valid JSON
// line; a requeued body is one JSON object line with attempt 1, no error and the same valid id,
// and requeueing it again changes nothing but its requeue count, which grows by one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/value.hpp"
#include "pfo3/queue/dead_letter.hpp"

namespace {

using pfo3::fuzz::check;
namespace json = pfo3::json;
namespace queue = pfo3::queue;

bool one_line_of_json(const std::string& s) {
    return s.find_first_of("\r\n") == std::string::npos && json::is_valid_json(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    std::string why;
    const auto parsed = json::parse(body, why, queue::max_dead_letter_depth);

    const queue::dead_letter_summary s = queue::summarize_dead_letter(body, "m-1", "t");
    check(s.decodable == (parsed && parsed->root().is(json::kind::object)),
          "decodable differs from 'a JSON object'");
    check(s.decodable || !s.error.empty(), "an undecodable letter without a reason");
    check(s.attempt >= 0, "a negative attempt");

    const std::string line = queue::dead_letter_json_line(body);
    check(one_line_of_json(line), "dead list --json got something other than one JSON line");
    if (parsed) {
        std::string why2;
        const auto back = json::parse(line, why2);
        check(back && back->root().compact() == parsed->root().compact(), "a JSON body changed in its line");
    }

    for (char c : queue::one_line(s.error))
        check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "one_line left a control character");

    const auto requeued = queue::requeue_body(body, why);
    if (!requeued) {
        check(!why.empty(), "a refused requeue without a reason");
        return 0;
    }
    check(s.decodable && pfo3::is_valid_task_id(s.id), "requeued a body without a valid id");
    check(one_line_of_json(*requeued), "a requeued body is not one JSON line");
    const queue::dead_letter_summary r = queue::summarize_dead_letter(*requeued);
    check(r.decodable && r.id == s.id, "a requeued body lost its id");
    check(r.attempt == 1 && r.error.empty(), "a requeued body kept its attempt or error");
    std::string why3;
    const auto twice = queue::requeue_body(*requeued, why3);
    check(twice.has_value(), "a requeued body cannot be requeued again");
    auto requeues_of = [](const std::string& text) -> std::int64_t {
        std::string why;
        auto doc = json::parse(text, why);
        if (!doc) return -1;
        auto n = doc->root().find("requeues");
        return n ? n->int64().value_or(-1) : -1;
    };
    const std::int64_t once = requeues_of(*requeued);
    check(once >= 1 && requeues_of(*twice) == once + 1, "a requeue did not count one more");
    // Everything else is unchanged: the same members in the same order with the same values.
    std::string why_a, why_b;
    const auto a = json::parse(*requeued, why_a);
    const auto b = json::parse(*twice, why_b);
    check(a && b && a->root().size() == b->root().size(), "requeueing a requeued body changed its members");
    for (std::size_t i = 0; i < a->root().size(); ++i) {
        const auto ma = a->root().member_at(i), mb = b->root().member_at(i);
        check(ma.name == mb.name, "requeueing a requeued body reordered it");
        if (ma.name != "requeues")
            check(ma.value.compact() == mb.value.compact(), "requeueing a requeued body changed more than its count");
    }
    return 0;
}
