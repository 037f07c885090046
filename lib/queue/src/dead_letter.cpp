#include "pfo3/queue/dead_letter.hpp"

#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/task_fields.hpp"
#include "pfo3/json/value.hpp"

namespace pfo3::queue {

namespace {

// The json module's one strict parse (UTF-8 checked, numbers exact, depth bounded before a
// tree exists), then: is it an object?
std::optional<json::document> parse_object(std::string_view body, std::string& why) {
    std::optional<json::document> doc = json::parse(body, why, max_dead_letter_depth);
    if (!doc) {
        why = "not JSON: " + why;
    } else if (!doc->root().is(json::kind::object)) {
        why = "not a JSON object";
        doc.reset();
    }
    return doc;
}

// The task id of a body, as decode_message reads it; empty if there is none.
std::string id_of(json::value body) {
    const std::optional<json::value> id = json::find_field(body, json::task_fields::id);
    return id ? json::body_task_id(*id).value_or("") : std::string();
}

}  // namespace

dead_letter_summary summarize_dead_letter(std::string_view body, std::string_view message_id, std::string_view type) {
    namespace f = json::task_fields;
    dead_letter_summary s;
    s.id = message_id;
    s.type = type;
    std::string why;
    const std::optional<json::document> doc = parse_object(body, why);
    if (!doc) {
        s.error = "undecodable body: " + why;
        return s;
    }
    s.decodable = true;
    const json::value root = doc->root();
    if (auto id = id_of(root); !id.empty()) s.id = std::move(id);
    if (auto t = json::find_field(root, f::type); t && t->is(json::kind::string)) s.type = t->string();
    if (auto a = json::find_field(root, f::attempt))
        s.attempt = static_cast<int>(json::integer_in(*a, f::attempt).value_or(0));
    if (auto e = root.find("error"))
        s.error = e->is(json::kind::string) ? std::string(e->string()) : e->compact();
    if (auto at = json::find_field(root, f::submitted_at); at && at->is(json::kind::string))
        s.submitted_at = at->string();
    return s;
}

std::optional<std::string> requeue_body(std::string_view dead_body, std::string& why) {
    const std::optional<json::document> doc = parse_object(dead_body, why);
    if (!doc) {
        why = "undecodable body: " + why;
        return std::nullopt;
    }
    const json::value root = doc->root();
    if (!is_valid_task_id(id_of(root))) {
        why = "the body has no valid task \"id\"";
        return std::nullopt;
    }
    // Every member in its order, without "error", with "attempt" 1 (added if missing) and
    // "requeues" one more (1 if missing): a new run of the task, whose records replace the
    // dead one (pfo3::may_replace), and which no stale copy of an earlier run can replace.
    const std::string_view attempt = json::task_fields::attempt.name;
    const std::string_view requeues = json::task_fields::requeues.name;
    std::string out = "{";
    bool had_attempt = false, had_requeues = false;
    for (std::size_t i = 0; i < root.size(); ++i) {
        const json::member m = root.member_at(i);
        if (m.name == "error") continue;
        if (m.name == requeues && had_requeues) continue;  // the first of duplicates counts
        if (out.size() > 1) out += ',';
        out += json::quote(m.name);
        out += ':';
        if (m.name == attempt) {
            out += '1';
            had_attempt = true;
        } else if (m.name == requeues) {
            const auto n = json::integer_in(m.value, json::task_fields::requeues);
            if (!n) {
                why = "the body's \"requeues\" is not a count";
                return std::nullopt;
            }
            out += std::to_string(*n + 1);
            had_requeues = true;
        } else {
            m.value.append_compact(out);
        }
    }
    if (!had_attempt) out += std::string(out.size() > 1 ? "," : "") + json::quote(attempt) + ":1";
    if (!had_requeues) out += "," + json::quote(requeues) + ":1";
    out += '}';
    return out;
}

std::string dead_letter_json_line(std::string_view body) {
    std::string why;
    const std::optional<json::document> doc = json::parse(body, why, max_dead_letter_depth);
    if (!doc) return json::quote(body);
    // Valid JSON has line breaks only as whitespace between tokens.
    if (body.find_first_of("\r\n") == std::string_view::npos) return std::string(body);
    return doc->root().compact();
}

std::string one_line(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    return out;
}

}  // namespace pfo3::queue
