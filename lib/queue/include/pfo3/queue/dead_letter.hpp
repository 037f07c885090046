#pragma once
// Reading and rewriting the bodies of dead letters (`<queue>.dead`), for `pfo3 dead`. Pure
// functions: no broker, no shared state, thread-safe.
//
// A dead letter's body is the task body (SPEC 5) plus an "error" field saying why it died; a
// message that could not be decoded at all is dead-lettered with its body unchanged, so any
// bytes may turn up here and none may crash or mislead the operator's tools.
#include <optional>
#include <string>
#include <string_view>

namespace pfo3::queue {

/// Deeper bodies are treated as undecodable (bounds the recursion of re-encoding them).
inline constexpr int max_dead_letter_depth = 256;

/// What an operator sees of one dead letter. Fields missing from the body stay empty / 0.
struct dead_letter_summary {
    std::string id;            ///< body "id", else the message_id property
    std::string type;          ///< body "type" (or the teaching "accion"), else the type property
    int attempt = 0;           ///< body "attempt"; 0 when absent or not a positive integer
    std::string error;         ///< body "error"; for an undecodable body, what is wrong with it
    std::string submitted_at;  ///< body "submitted_at"
    bool decodable = false;    ///< the body is a JSON object (within max_dead_letter_depth)
};

/// Summarizes `body`; the AMQP properties `message_id` and `type` fill what the body lacks.
dead_letter_summary summarize_dead_letter(std::string_view body, std::string_view message_id = {},
                                          std::string_view type = {});

/// The body to publish back to the task queue: the dead body with "attempt" set to 1,
/// "requeues" one more than before (1 if absent) and "error" removed, every other field kept
/// in order. nullopt, with the reason in `why`, if the
/// body is not a JSON object with a valid task id (it could never be processed as a task).
std::optional<std::string> requeue_body(std::string_view dead_body, std::string& why);

/// `body` as exactly one line of JSON: the body itself if it is JSON on one line, re-encoded
/// compactly if it is JSON spanning lines, else the bytes as a JSON string (invalid UTF-8
/// replaced by U+FFFD), so `dead list --json` output is always one value per line.
std::string dead_letter_json_line(std::string_view body);

/// `s` with control characters (tabs, newlines, ...) replaced by spaces, for one-line tables.
std::string one_line(std::string_view s);

}  // namespace pfo3::queue
