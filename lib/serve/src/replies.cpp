#include "replies.hpp"

#include "pfo3/json/protocol.hpp"

namespace pfo3::serve {

std::string publish_answer(queue::publish_outcome o, const std::string& id) {
    switch (o) {
    case queue::publish_outcome::confirmed: return json::encode_accepted(id);
    case queue::publish_outcome::nacked:
        return json::encode_rejected(request_error::unavailable,
                                     "the broker refused the task (nack); it was NOT accepted, retry later", id);
    case queue::publish_outcome::unroutable:
        return json::encode_rejected(request_error::unavailable,
                                     "the task queue does not exist on the broker; it was NOT accepted", id);
    case queue::publish_outcome::overloaded:
        return json::encode_rejected(request_error::overloaded, default_message(request_error::overloaded), id);
    case queue::publish_outcome::unavailable: break;
    }
    return json::encode_rejected(request_error::unavailable, default_message(request_error::unavailable), id);
}

std::optional<request_error> error_of(std::string_view line) {
    if (line.starts_with("{\"ok\":true")) return std::nullopt;
    // The codes serve's own replies carry (publish outcomes, status and cancel answers).
    // The needle is built by appends: GCC 12 -O2 warns -Wrestrict (a false positive) on the
    // "\"" + std::string + "\"" form.
    std::string needle;
    for (auto e : {request_error::bad_request, request_error::unavailable, request_error::overloaded,
                   request_error::bad_json, request_error::unauthorized, request_error::too_late,
                   request_error::not_found}) {
        needle.assign(1, '"');
        needle.append(wire_code(e));
        needle.push_back('"');
        if (line.find(needle) != std::string_view::npos) return e;
    }
    return request_error::unavailable;
}

}  // namespace pfo3::serve
