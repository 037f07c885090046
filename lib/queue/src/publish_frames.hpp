#pragma once
// Private to the queue module: basic.publish frames encoded into a caller's buffer, so a
// publisher can hand the broker a whole batch of messages with one write. rabbitmq-c's
// amqp_basic_publish sends each message as three separate writes (method, header, body):
// at 10 000 tasks/s that is 30 000 syscalls a second on serve's publisher thread alone.
//
// The bytes are exactly what amqp_basic_publish would send (same encoders, same frame
// layout, body split at frame_max), so they can be mixed on one socket with rabbitmq-c's own
// frames as long as each write holds whole frames.
#include <amqp.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace pfo3::queue::detail {

/// Cuts every short-string property of `p` longer than 255 bytes (all an AMQP shortstr holds)
/// at the last UTF-8 character boundary within 255 bytes, and leaves out one that would be
/// empty. A property is only a copy of what the body says (the task's type, id), so the body
/// keeps the full value; without this a message with a long field could never be published,
/// not even as a dead letter. The cut properties point into the original bytes.
void fit_short_strings(amqp_basic_properties_t& p) noexcept;

/// Appends the method, content header and body frames of one basic.publish to `out`.
/// `frame_max` is the connection's negotiated frame size. The properties always encode (they
/// go through fit_short_strings); throws service_error if the method cannot be encoded (a
/// routing key longer than 255 bytes), leaving `out` as it was.
void append_publish(std::string& out, amqp_channel_t channel, amqp_bytes_t exchange, amqp_bytes_t routing_key,
                    bool mandatory, const amqp_basic_properties_t& props, std::string_view body,
                    std::size_t frame_max);

}  // namespace pfo3::queue::detail
