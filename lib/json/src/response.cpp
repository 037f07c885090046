#include "pfo3/json/response.hpp"

#include "pfo3/json/value.hpp"

namespace pfo3::json {

namespace {

// A status response carries a stored result (at most default_max_depth deep) one level down.
constexpr std::size_t max_response_depth = default_max_depth + 1;

std::string string_field(value obj, std::string_view name) {
    const std::optional<value> v = obj.find(name);
    return v ? std::string(v->string()) : std::string();
}

}  // namespace

std::optional<response> decode_response(std::string_view line) {
    std::string why;
    const std::optional<document> doc = parse(line, why, max_response_depth);
    if (!doc || !doc->root().is(kind::object)) return std::nullopt;
    const value root = doc->root();
    const std::optional<value> ok = root.find("ok");
    if (!ok || !ok->is(kind::boolean)) return std::nullopt;
    response r;
    r.ok = ok->boolean();
    r.id = string_field(root, "id");
    r.status = string_field(root, "status");
    r.message = string_field(root, "message");
    r.run_at = string_field(root, "run_at");
    if (r.ok) {
        r.task_error = string_field(root, "error");
        if (const std::optional<value> result = root.find("result")) r.result_json = result->compact();
    } else {
        r.error = string_field(root, "error");
    }
    return r;
}

}  // namespace pfo3::json
