#pragma once
// The stored record (SPEC 7) as one JSON object: the file and S3 stores' format.
#include <string>
#include <string_view>

#include "pfo3/core/task.hpp"

namespace pfo3::store {

/// All SPEC 7 fields; payload and result embedded as JSON, error null when empty.
/// Invalid UTF-8 is replaced by U+FFFD so the record stays readable. Throws
/// std::invalid_argument if payload_json or result_json is not valid JSON.
std::string encode_record(const task_record& r);
/// The inverse of encode_record (payload and result come back as compact JSON); false (and
/// `why`) on anything malformed.
bool decode_record(std::string_view text, task_record& out, std::string& why);

}  // namespace pfo3::store
