#pragma once
// Text helpers the json, handlers and store modules share, so each rule exists once: UTF-8
// checking and repair.
#include <string>
#include <string_view>

namespace pfo3::json {

/// True if `s` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

/// `s` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

}  // namespace pfo3::json
