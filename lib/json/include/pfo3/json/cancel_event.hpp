#pragma once
// The cancel event (issue 16, decision 0015): serve publishes one on the fanout exchange
// pfo3.cancels once a cancel_requested record is durable; every worker hears it, so the one
// running the task stops it and the one that will receive it never runs it.
// Body: {"kind":"cancel","id":"…","error":"cancel requested: …"}.
#include <string>
#include <string_view>

namespace pfo3::json {

/// The fanout exchange that carries cancel events (its own: workers do not read heartbeats).
inline constexpr std::string_view cancel_exchange = "pfo3.cancels";

/// One cancel: the task id and the record's error text.
struct cancel_event {
    std::string id;
    std::string why;
};

/// The event's body.
std::string encode_cancel_event(const cancel_event& e);
/// Reads a body; false (and `why_bad`) for anything that is no cancel event of a valid id.
bool decode_cancel_event(std::string_view body, cancel_event& out, std::string& why_bad);

}  // namespace pfo3::json
