#pragma once
// Reading the server's responses, for clients (`pfo3 send`, `pfo3 status`).
#include <optional>
#include <string>
#include <string_view>

namespace pfo3::json {

/// The fields of one response line that clients act on.
struct response {
    bool ok = false;
    std::string id;       ///< empty if absent
    std::string status;   ///< "queued", "pending", "done", ... (empty if absent)
    std::string error;    ///< wire code when !ok
    std::string message;  ///< human text when !ok
    std::string result_json = "null";  ///< status responses: the result as JSON text
    std::string task_error;            ///< status responses: the task's error, if any
    std::string run_at;                ///< a scheduled task's start time (empty if absent)
};

/// Decodes one response line; nullopt if it is not a JSON object with a boolean "ok".
std::optional<response> decode_response(std::string_view line);

}  // namespace pfo3::json
