#pragma once
// Shared by the fuzz targets: a failed check aborts with a message, so libFuzzer records the
// input as a crash (assert() would vanish under NDEBUG).
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "pfo3/json/message.hpp"

namespace pfo3::fuzz {

/// Aborts with `what` when `ok` is false.
inline void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
}

/// True if `line` is one JSON value followed by exactly one newline, with no other newline.
inline bool is_json_line(std::string_view line) {
    if (line.empty() || line.back() != '\n') return false;
    line.remove_suffix(1);
    return line.find_first_of("\r\n") == std::string_view::npos && json::is_valid_json(line);
}

}  // namespace pfo3::fuzz
