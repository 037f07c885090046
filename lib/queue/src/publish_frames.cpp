#include "publish_frames.hpp"

#include <amqp_framing.h>

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "pfo3/core/error.hpp"

namespace pfo3::queue::detail {

namespace {

constexpr std::size_t frame_header = 7;  // type, channel, payload size
constexpr unsigned char frame_end = AMQP_FRAME_END;
// Generous bounds for what the encoders may write: a basic.publish holds two short strings
// (at most 255 bytes each) and three small fields; pfo3's properties are a few short strings
// and at most one header (a flag).
constexpr std::size_t method_room = 1024;
constexpr std::size_t properties_room = 8192;

void put16(char* p, std::uint16_t v) {
    p[0] = static_cast<char>(v >> 8);
    p[1] = static_cast<char>(v);
}
void put32(char* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (24 - 8 * i));
}
void put64(char* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (56 - 8 * i));
}

// Appends one whole frame: header, `payload` and the end byte. The encoders write into a
// scratch buffer on the stack first, so `out` only ever grows by the bytes a frame holds:
// growing it by the encoders' generous room and cutting it back zero-filled ~9 KiB a message,
// most of serve's publisher-thread instructions.
void append_frame(std::string& out, std::uint8_t type, amqp_channel_t channel, std::string_view payload) {
    char header[frame_header];
    header[0] = static_cast<char>(type);
    put16(&header[1], channel);
    put32(&header[3], static_cast<std::uint32_t>(payload.size()));
    out.append(header, frame_header);
    out.append(payload);
    out.push_back(static_cast<char>(frame_end));
}

constexpr std::size_t max_shortstr = 255;

// Cuts `b` to the longest prefix of at most max_shortstr bytes that does not end inside a UTF-8
// sequence (the byte after the cut is no continuation byte 10xxxxxx); unsets `flag` if nothing
// is left.
void fit(amqp_bytes_t& b, amqp_flags_t& flags, amqp_flags_t flag) noexcept {
    if (!(flags & flag) || b.len <= max_shortstr) return;
    const auto* bytes = static_cast<const unsigned char*>(b.bytes);
    std::size_t len = max_shortstr;
    while (len > 0 && (bytes[len] & 0xC0) == 0x80) --len;
    b.len = len;
    if (len == 0) flags &= ~flag;
}

}  // namespace

void fit_short_strings(amqp_basic_properties_t& p) noexcept {
    fit(p.content_type, p._flags, AMQP_BASIC_CONTENT_TYPE_FLAG);
    fit(p.content_encoding, p._flags, AMQP_BASIC_CONTENT_ENCODING_FLAG);
    fit(p.correlation_id, p._flags, AMQP_BASIC_CORRELATION_ID_FLAG);
    fit(p.reply_to, p._flags, AMQP_BASIC_REPLY_TO_FLAG);
    fit(p.expiration, p._flags, AMQP_BASIC_EXPIRATION_FLAG);
    fit(p.message_id, p._flags, AMQP_BASIC_MESSAGE_ID_FLAG);
    fit(p.type, p._flags, AMQP_BASIC_TYPE_FLAG);
    fit(p.user_id, p._flags, AMQP_BASIC_USER_ID_FLAG);
    fit(p.app_id, p._flags, AMQP_BASIC_APP_ID_FLAG);
    fit(p.cluster_id, p._flags, AMQP_BASIC_CLUSTER_ID_FLAG);
}

void append_publish(std::string& out, amqp_channel_t channel, amqp_bytes_t exchange, amqp_bytes_t routing_key,
                    bool mandatory, const amqp_basic_properties_t& props, std::string_view body,
                    std::size_t frame_max) {
    // Method frame: method id, then the encoded arguments.
    amqp_basic_publish_t m{};
    m.exchange = exchange;
    m.routing_key = routing_key;
    m.mandatory = mandatory ? 1 : 0;
    m.immediate = 0;
    char method[4 + method_room];  // uninitialised on purpose: only what the encoder wrote is read
    put32(method, AMQP_BASIC_PUBLISH_METHOD);
    int n = amqp_encode_method(AMQP_BASIC_PUBLISH_METHOD, &m, amqp_bytes_t{method_room, method + 4});
    if (n < 0) throw service_error(std::string("encode basic.publish: ") + amqp_error_string2(n), false);
    const std::size_t method_size = 4 + static_cast<std::size_t>(n);

    // Content header frame: class, weight 0, body size, then the encoded properties.
    char header[12 + properties_room];
    put16(header, AMQP_BASIC_CLASS);
    put16(header + 2, 0);
    put64(header + 4, body.size());
    amqp_basic_properties_t fitted = props;
    fit_short_strings(fitted);
    n = amqp_encode_properties(AMQP_BASIC_CLASS, &fitted, amqp_bytes_t{properties_room, header + 12});
    // Cannot happen with fitted short strings and pfo3's one-flag header table; kept as a guard.
    if (n < 0) throw service_error(std::string("encode message properties: ") + amqp_error_string2(n), false);
    const std::size_t header_size = 12 + static_cast<std::size_t>(n);

    // Body frames of at most frame_max - 8 bytes each (header and end byte included).
    const std::size_t chunk = frame_max > frame_header + 1 ? frame_max - frame_header - 1 : body.size();
    const std::size_t frames = body.empty() ? 0 : (body.size() + chunk - 1) / chunk;
    // Nothing is appended before both encoders succeeded, so a throw leaves `out` as it was.
    out.reserve(out.size() + 2 * (frame_header + 1) + method_size + header_size + body.size() +
                frames * (frame_header + 1));
    append_frame(out, AMQP_FRAME_METHOD, channel, std::string_view(method, method_size));
    append_frame(out, AMQP_FRAME_HEADER, channel, std::string_view(header, header_size));
    for (std::size_t off = 0; off < body.size(); off += chunk)
        append_frame(out, AMQP_FRAME_BODY, channel, body.substr(off, std::min(chunk, body.size() - off)));
}

}  // namespace pfo3::queue::detail
