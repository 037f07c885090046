#pragma once
// Text helpers the json, handlers and store modules share, so each rule exists once: UTF-8
// checking and repair, and the words error messages use for the kind of a JSON value.
#include <rapidjson/fwd.h>

#include <string>
#include <string_view>

namespace pfo3::json {

/// True if `s` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

/// `s` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

/// "null", "a boolean", "a number", "a string", "an array" or "an object", for messages.
std::string_view kind_name(const rapidjson::Value& v) noexcept;

}  // namespace pfo3::json
