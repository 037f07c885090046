#pragma once
// The RabbitMQ message body (SPEC 5) as JSON text, and small JSON helpers.
#include <cstdint>
#include <string>
#include <string_view>

#include "pfo3/core/task.hpp"
#include "pfo3/json/task_fields.hpp"

namespace pfo3::json {

/// {"id","type","payload","submitted_at","attempt"} (+ "max_attempts", "timeout_ms",
/// "requeues", "priority" when non-zero, "run_at" when not empty). Readers ignore fields they do
/// not know, so a field is added without a version bump.
std::string encode_message(const task& t);

/// Decodes a message body. Accepts pfo3's own format and the teaching distributor's
/// {"id","accion","datos"}; a missing attempt is 1, a missing submitted_at stays empty.
/// On failure returns false and says why in `why`; `out.id` is filled if an id was readable,
/// so the failure can still be recorded under it.
bool decode_message(std::string_view body, task& out, std::string& why);

/// True if `text` is one syntactically valid JSON value (used for handler output).
bool is_valid_json(std::string_view text);
/// `s` as a JSON string literal, quotes included.
std::string quote(std::string_view s);
/// quote(s) appended to `out`, with no string of its own.
void append_quoted(std::string& out, std::string_view s);

}  // namespace pfo3::json
