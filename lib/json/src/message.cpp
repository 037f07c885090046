#include "pfo3/json/message.hpp"

#include "json_detail.hpp"
#include "pfo3/core/task_id.hpp"

namespace pfo3::json {

namespace {

// Bodies come from our own serve or the teaching distributor, whose payloads were bounded by
// their own checks; this bound only protects the recursive writer from a hostile publisher.
constexpr std::size_t max_message_depth = default_max_depth;
// Handler output deeper than this is not treated as JSON, so every later reader of a stored
// result (including recursive parsers) stays bounded.
constexpr std::size_t max_result_depth = default_max_depth;

// Does nothing with the events: is_valid_json only needs the verdict.
struct null_handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, null_handler> {};

// Reads the integer field `f` of a body into `out` when present; false (and why) when it is
// outside the table's range.
template <class T>
bool read_integer(value body, const task_field& f, T& out, std::string& why) {
    const std::optional<value> v = find_field(body, f);
    if (!v) return true;
    const std::optional<std::int64_t> n = integer_in(*v, f);
    if (!n) {
        why = "message " + integer_problem(f.name, f.min, f.max);
        return false;
    }
    out = static_cast<T>(*n);
    return true;
}

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
    if (!t.run_at.empty()) {
        out.append(",\"run_at\":");
        detail::append_quoted(out, t.run_at);
    }
    if (t.priority != 0) {
        out.append(",\"priority\":");
        out.append(std::to_string(t.priority));
    }
    out.push_back('}');
    return out;
}

bool decode_message(std::string_view body, task& out, std::string& why) {
    namespace f = task_fields;
    out = task{};
    char value_buffer[8192];
    rapidjson::MemoryPoolAllocator<> allocator(value_buffer, sizeof value_buffer);
    // Its own stack allocator too: without one the document news one up on every parse.
    rapidjson::CrtAllocator stack_allocator;
    rapidjson::Document doc(&allocator, 1024, &stack_allocator);
    detail::parse_failure failure;
    if (!detail::parse_document(doc, body, max_message_depth, failure)) {
        why = "message body: " + detail::describe(failure, max_message_depth);
        return false;
    }
    const value root = detail::value_access::wrap(doc);
    if (!root.is(kind::object)) {
        why = "message body is not a JSON object";
        return false;
    }

    // The id first, so a failure below can still be recorded under it.
    const std::optional<value> id = find_field(root, f::id);
    if (!id) {
        why = "message body has no \"id\"";
        return false;
    }
    std::optional<std::string> id_text = body_task_id(*id);
    if (!id_text) {
        why = "message \"id\" must be a string";
        return false;
    }
    if (!is_valid_task_id(*id_text)) {
        why = "message \"id\" must be " + std::string(task_id_rule);
        return false;
    }
    out.id = std::move(*id_text);

    std::string_view type_name;
    const std::optional<value> type = find_field(root, f::type, &type_name);
    if (!type) {
        why = "message body has no \"type\" (or \"accion\")";
        return false;
    }
    if (type->string().empty()) {
        why = "message \"" + std::string(type_name) + "\" must be a non-empty string";
        return false;
    }
    out.type.assign(type->string());

    if (const std::optional<value> payload = find_field(root, f::payload)) {
        out.payload_json.clear();
        out.payload_json.reserve(body.size());  // compact text is rarely longer: one allocation
        payload->append_compact(out.payload_json);
    }

    if (const std::optional<value> at = find_field(root, f::submitted_at)) {
        if (!at->is(kind::string)) {
            why = "message \"submitted_at\" must be a string";
            return false;
        }
        out.submitted_at.assign(at->string());
    }
    if (const std::optional<value> at = find_field(root, f::run_at)) {
        if (!at->is(kind::string)) {
            why = "message \"run_at\" must be a string";
            return false;
        }
        out.run_at.assign(at->string());
    }
    return read_integer(root, f::attempt, out.attempt, why) &&
           read_integer(root, f::max_attempts, out.max_attempts, why) &&
           read_integer(root, f::timeout_ms, out.timeout_ms, why) &&
           read_integer(root, f::requeues, out.requeues, why) &&
           read_integer(root, f::priority, out.priority, why);
}

bool is_valid_json(std::string_view text) {
    null_handler handler;
    detail::parse_failure failure;
    return detail::parse_sax(text, handler, max_result_depth, failure);
}

void append_quoted(std::string& out, std::string_view s) { detail::append_quoted(out, s); }

std::string quote(std::string_view s) {
    std::string out;
    detail::append_quoted(out, s);
    return out;
}

}  // namespace pfo3::json
