#pragma once
// UTF-8 repair for text that goes into stored records. Private to the store module.
#include <string>
#include <string_view>

namespace pfo3::store::detail {

/// True if `s` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;
/// `s` with every byte that is not part of a well-formed sequence replaced by U+FFFD.
std::string to_valid_utf8(std::string_view s);

}  // namespace pfo3::store::detail
