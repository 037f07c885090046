#pragma once
// The request lines the clients write (`pfo3 send`, `status`, `cancel`, and bench's status
// polling): one way to write each op a client sends (docs/protocol.md).
#include <optional>
#include <string>
#include <string_view>

namespace pfo3::json {

/// {"op":"status","id":ID}
std::string encode_status_request(std::string_view id);
/// {"op":"cancel","id":ID}, with ,"reason":R when `reason` is not empty.
std::string encode_cancel_request(std::string_view id, std::string_view reason);

/// When a submitted payload may run and how urgent it is (`pfo3 send --at/--in/--priority`).
struct submit_schedule {
    std::optional<std::string> at;  ///< RFC 3339 time: "run_at"
    std::optional<std::string> in;  ///< 90, 90s, 90m, 2h, 1d: "delay_s"
    std::optional<int> priority;    ///< "priority"
};

/// The fields `s` adds to a submit, each with a leading comma, into `fields`; or what is wrong
/// (both at and in, a time or duration that does not parse, more than a year).
std::optional<std::string> schedule_fields(const submit_schedule& s, std::string& fields);

/// {"type":TYPE<fields>,"payload":"PAYLOAD"}: the payload sent as a JSON string.
std::string encode_submit(std::string_view type, std::string_view fields, std::string_view payload);

}  // namespace pfo3::json
