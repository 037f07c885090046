#pragma once
// Small JSON text helpers for handler results. Private to the handlers module.
#include <string>
#include <string_view>

namespace pfo3::handlers::detail {

/// True if `text` is exactly one valid JSON value in valid UTF-8 (surrounding whitespace ok).
bool is_json(std::string_view text);
/// `s` with every invalid UTF-8 byte replaced by U+FFFD.
std::string valid_utf8(std::string_view s);
/// `s` as a JSON string literal; invalid UTF-8 bytes become U+FFFD so the result stays valid.
std::string json_string(std::string_view s);

}  // namespace pfo3::handlers::detail
