#include "pfo3/json/client_requests.hpp"

#include "pfo3/core/clock.hpp"
#include "pfo3/json/message.hpp"

namespace pfo3::json {

std::string encode_status_request(std::string_view id) {
    std::string out = "{\"op\":\"status\",\"id\":";
    append_quoted(out, id);
    return out + "}";
}

std::string encode_cancel_request(std::string_view id, std::string_view reason) {
    std::string out = "{\"op\":\"cancel\",\"id\":";
    append_quoted(out, id);
    if (!reason.empty()) {
        out += ",\"reason\":";
        append_quoted(out, reason);
    }
    return out + "}";
}

std::optional<std::string> schedule_fields(const submit_schedule& s, std::string& fields) {
    if (s.at && s.in) return "give --at or --in, not both";
    if (s.at) {
        if (!parse_rfc3339(*s.at)) return "--at: not an RFC 3339 time (like 2026-12-06T18:00:00Z): " + *s.at;
        fields += ",\"run_at\":" + quote(*s.at);
    }
    if (s.in) {
        const auto seconds = parse_duration_s(*s.in);
        if (!seconds || *seconds > 366 * 86400)
            return "--in: expected a duration like 90, 90s, 90m, 2h or 1d (at most a year), got " + *s.in;
        fields += ",\"delay_s\":" + std::to_string(*seconds);
    }
    if (s.priority) fields += ",\"priority\":" + std::to_string(*s.priority);
    return std::nullopt;
}

std::string encode_submit(std::string_view type, std::string_view fields, std::string_view payload) {
    std::string out = "{\"type\":";
    append_quoted(out, type);
    out.append(fields).append(",\"payload\":");
    append_quoted(out, payload);
    return out + "}";
}

}  // namespace pfo3::json
