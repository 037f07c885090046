#include "pfo3/queue/queue_admin.hpp"

#include <algorithm>

#include "amqp_connection.hpp"
#include "publish_frames.hpp"

namespace pfo3::queue {

namespace {

using clock = std::chrono::steady_clock;

amqp_bytes_t as_bytes(const std::string& s) noexcept {
    return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

std::string bytes_text(amqp_bytes_t b) {
    return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

// Frees a message read by amqp_read_message.
struct message_guard {
    amqp_message_t& m;
    ~message_guard() { amqp_destroy_message(&m); }
};

}  // namespace

struct queue_admin::impl {
    // No heartbeat: calls are short and bounded by the RPC timeout, and nothing would send
    // heartbeats between the calls of a command.
    impl(const amqp_url& url, const std::string& name) : c(url, name, 0) {}

    detail::connection c;
    std::uint64_t last_tag = 0;   // highest delivery tag taken by get()
    std::uint64_t unacked = 0;    // taken and neither acked nor requeued
    bool confirming = false;      // confirm.select done
    std::uint64_t next_publish_tag = 1;

    // Reads frames until the confirm of `tag` (or a close) arrives, or the deadline passes.
    publish_outcome await_confirm(std::uint64_t tag, const std::string& message_id, clock::time_point deadline) {
        bool returned = false;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - clock::now());
            if (left.count() <= 0) return publish_outcome::unavailable;
            timeval tv{static_cast<time_t>(left.count() / 1000000), static_cast<suseconds_t>(left.count() % 1000000)};
            amqp_frame_t f;
            int st = amqp_simple_wait_frame_noblock(c.get(), &f, &tv);
            if (st == AMQP_STATUS_TIMEOUT) return publish_outcome::unavailable;
            c.check(st, "wait for publish confirm");
            if (f.frame_type != AMQP_FRAME_METHOD) continue;
            const amqp_method_t& m = f.payload.method;
            switch (m.id) {
            case AMQP_BASIC_ACK_METHOD: {
                auto* a = static_cast<const amqp_basic_ack_t*>(m.decoded);
                // A late confirm of an earlier publish that timed out is not ours.
                if (a->delivery_tag == tag || (a->multiple && a->delivery_tag > tag))
                    return returned ? publish_outcome::unroutable : publish_outcome::confirmed;
                break;
            }
            case AMQP_BASIC_NACK_METHOD: {
                auto* n = static_cast<const amqp_basic_nack_t*>(m.decoded);
                if (n->delivery_tag == tag || (n->multiple && n->delivery_tag > tag)) return publish_outcome::nacked;
                break;
            }
            case AMQP_BASIC_RETURN_METHOD: {
                amqp_message_t msg;
                c.check(amqp_read_message(c.get(), detail::channel, &msg, 0), "read returned message");
                message_guard guard{msg};
                if ((msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) &&
                    bytes_text(msg.properties.message_id) == message_id)
                    returned = true;
                break;
            }
            case AMQP_CHANNEL_CLOSE_METHOD:
            case AMQP_CONNECTION_CLOSE_METHOD: {
                auto err = detail::make_close_error(m, "publish", c.peer());
                c.answer_close(m);
                throw err;
            }
            default:
                break;
            }
            amqp_maybe_release_buffers(c.get());
        }
    }
};

queue_admin::queue_admin(const amqp_url& url, const std::string& connection_name)
    : impl_(std::make_unique<impl>(url, connection_name)) {}

queue_admin::~queue_admin() { close(); }

void queue_admin::declare(const topology& topo) {
    impl_->c.declare(topo);
    amqp_maybe_release_buffers(impl_->c.get());
}

std::uint32_t queue_admin::message_count(const std::string& queue) {
    auto& c = impl_->c;
    auto* ok = amqp_queue_declare(c.get(), detail::channel, amqp_cstring_bytes(queue.c_str()), /*passive*/ 1,
                                  /*durable*/ 0, /*exclusive*/ 0, /*auto_delete*/ 0, amqp_empty_table);
    c.check(amqp_get_rpc_reply(c.get()), "count messages of queue '" + queue + "'");
    std::uint32_t n = ok ? ok->message_count : 0;
    amqp_maybe_release_buffers(c.get());
    return n;
}

std::optional<fetched_message> queue_admin::get(const std::string& queue) {
    auto& c = impl_->c;
    auto reply = amqp_basic_get(c.get(), detail::channel, amqp_cstring_bytes(queue.c_str()), /*no_ack*/ 0);
    c.check(reply, "basic.get from '" + queue + "'");
    if (reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) {
        amqp_maybe_release_buffers(c.get());
        return std::nullopt;
    }
    if (reply.reply.id != AMQP_BASIC_GET_OK_METHOD)
        throw service_error("basic.get from '" + queue + "' on " + c.peer() + ": unexpected reply " +
                                amqp_method_name(reply.reply.id),
                            true);
    const auto* ok = static_cast<const amqp_basic_get_ok_t*>(reply.reply.decoded);
    fetched_message out;
    out.tag = ok->delivery_tag;
    out.redelivered = ok->redelivered != 0;
    out.remaining = ok->message_count;
    // Counted before reading the body: if that fails the message is still held by the channel.
    impl_->last_tag = std::max(impl_->last_tag, out.tag);
    ++impl_->unacked;
    amqp_message_t msg;
    c.check(amqp_read_message(c.get(), detail::channel, &msg, 0), "read message from '" + queue + "'");
    message_guard guard{msg};
    out.body = bytes_text(msg.body);
    if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) out.message_id = bytes_text(msg.properties.message_id);
    if (msg.properties._flags & AMQP_BASIC_TYPE_FLAG) out.type = bytes_text(msg.properties.type);
    amqp_maybe_release_buffers(c.get());
    return out;
}

void queue_admin::ack(std::uint64_t tag) {
    impl_->c.check(amqp_basic_ack(impl_->c.get(), detail::channel, tag, /*multiple*/ 0), "basic.ack");
    if (impl_->unacked > 0) --impl_->unacked;
}

void queue_admin::requeue_unacked() {
    if (impl_->unacked == 0) return;
    // multiple=1 up to the highest tag taken: every one of them still unacked goes back.
    impl_->c.check(amqp_basic_nack(impl_->c.get(), detail::channel, impl_->last_tag, /*multiple*/ 1, /*requeue*/ 1),
                   "basic.nack");
    impl_->unacked = 0;
}

std::uint32_t queue_admin::purge(const std::string& queue) {
    auto& c = impl_->c;
    auto* ok = amqp_queue_purge(c.get(), detail::channel, amqp_cstring_bytes(queue.c_str()));
    c.check(amqp_get_rpc_reply(c.get()), "purge queue '" + queue + "'");
    std::uint32_t n = ok ? ok->message_count : 0;
    amqp_maybe_release_buffers(c.get());
    return n;
}

publish_outcome queue_admin::publish(const outgoing_message& msg, std::chrono::milliseconds confirm_timeout) {
    auto& s = *impl_;
    auto& c = s.c;
    if (!s.confirming) {
        amqp_confirm_select(c.get(), detail::channel);
        c.check(amqp_get_rpc_reply(c.get()), "confirm.select");
        amqp_maybe_release_buffers(c.get());
        s.confirming = true;
    }
    static const std::string json = "application/json";
    amqp_basic_properties_t p{};
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
               AMQP_BASIC_TIMESTAMP_FLAG;
    p.content_type = as_bytes(json);
    p.delivery_mode = 2;  // persistent
    p.message_id = as_bytes(msg.message_id);
    p.timestamp = static_cast<std::uint64_t>(std::max<std::int64_t>(0, msg.timestamp));
    if (!msg.type.empty()) {
        p._flags |= AMQP_BASIC_TYPE_FLAG;
        p.type = as_bytes(msg.type);
    }
    detail::fit_short_strings(p);  // a requeued dead letter may carry any type
    const auto deadline = clock::now() + confirm_timeout;
    const std::uint64_t tag = s.next_publish_tag++;
    c.check(amqp_basic_publish(c.get(), detail::channel, amqp_empty_bytes, as_bytes(msg.routing_key),
                               /*mandatory*/ 1, /*immediate*/ 0, &p, as_bytes(msg.body)),
            "basic.publish");
    return s.await_confirm(tag, msg.message_id, deadline);
}

void queue_admin::close() noexcept {
    if (impl_) impl_->c.close();
}

}  // namespace pfo3::queue
