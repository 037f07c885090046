#include "pfo3/json/task_fields.hpp"

namespace pfo3::json {

bool is_valid_task_type(std::string_view type) noexcept {
    if (type.empty() || type.size() > 128) return false;
    for (char c : type) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::optional<value> find_field(value object, const task_field& f, std::string_view* found_as) noexcept {
    std::string_view name = f.name;
    std::optional<value> v = object.find(name);
    if (!v && !f.alias.empty()) {
        name = f.alias;
        v = object.find(name);
    }
    if (v && found_as) *found_as = name;
    return v;
}

std::optional<std::int64_t> integer_in(value v, std::int64_t min, std::int64_t max) noexcept {
    const std::optional<std::int64_t> i = v.int64();
    if (!i || *i < min || *i > max) return std::nullopt;
    return i;
}

std::string integer_problem(std::string_view name, std::int64_t min, std::int64_t max) {
    std::string out = "\"" + std::string(name) + "\" must be an integer ";
    if (max == INT_MAX) return out + ">= " + std::to_string(min);
    return out + "from " + std::to_string(min) + " to " + std::to_string(max);
}

std::optional<std::string> body_task_id(value v) {
    if (v.is(kind::string)) return std::string(v.string());
    if (auto n = v.uint64()) return std::to_string(*n);
    return std::nullopt;
}

}  // namespace pfo3::json
