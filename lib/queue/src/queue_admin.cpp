#include "pfo3/queue/queue_admin.hpp"

#include <algorithm>

#include "amqp_connection.hpp"

namespace pfo3::queue {

using detail::clock;

struct queue_admin::impl {
    // No heartbeat: calls are short and bounded by the RPC timeout, and nothing would send
    // heartbeats between the calls of a command.
    impl(const amqp_url& url, const std::string& name) : c(url, name, 0) {}

    detail::connection c;
    std::uint64_t last_tag = 0;   // highest delivery tag taken by get()
    std::uint64_t unacked = 0;    // taken and neither acked nor requeued
    bool confirming = false;      // confirm.select done

    // confirm.select once, before the first publish.
    void ensure_confirming() {
        if (confirming) return;
        c.confirm_select();
        amqp_maybe_release_buffers(c.get());
        confirming = true;
    }

    // Reads frames until the confirm of `tag` (or a close) arrives, or the deadline passes.
    publish_outcome await_confirm(std::uint64_t tag, const std::string& message_id, clock::time_point deadline) {
        bool returned = false;
        while (auto ev = c.read_confirm(deadline, "wait for publish confirm")) {
            using kind = detail::confirm::kind;
            // A late confirm of an earlier publish that timed out does not cover ours.
            if (ev->what == kind::ack && ev->covers(tag))
                return returned ? publish_outcome::unroutable : publish_outcome::confirmed;
            if (ev->what == kind::nack && ev->covers(tag)) return publish_outcome::nacked;
            if (ev->what == kind::returned && ev->message_id == message_id) returned = true;
        }
        return publish_outcome::unavailable;
    }
};

queue_admin::queue_admin(const amqp_url& url, const std::string& connection_name)
    : impl_(std::make_unique<impl>(url, connection_name)) {}

queue_admin::~queue_admin() { close(); }

void queue_admin::declare(const topology& topo) {
    impl_->c.declare(topo);
    amqp_maybe_release_buffers(impl_->c.get());
}

std::uint32_t queue_admin::message_count(const std::string& queue) { return inspect(queue).messages; }

queue_admin::queue_info queue_admin::inspect(const std::string& queue) {
    auto& c = impl_->c;
    auto* ok = amqp_queue_declare(c.get(), detail::channel, amqp_cstring_bytes(queue.c_str()), /*passive*/ 1,
                                  /*durable*/ 0, /*exclusive*/ 0, /*auto_delete*/ 0, amqp_empty_table);
    c.check(amqp_get_rpc_reply(c.get()), "count messages of queue '" + queue + "'");
    queue_info info;
    if (ok) info = {ok->message_count, ok->consumer_count};
    amqp_maybe_release_buffers(c.get());
    return info;
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
    detail::message_guard guard{msg};
    out.body = detail::text(msg.body);
    if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) out.message_id = detail::text(msg.properties.message_id);
    if (msg.properties._flags & AMQP_BASIC_TYPE_FLAG) out.type = detail::text(msg.properties.type);
    amqp_maybe_release_buffers(c.get());
    return out;
}

void queue_admin::ack(std::uint64_t tag) {
    impl_->c.ack(tag, /*multiple*/ false);
    if (impl_->unacked > 0) --impl_->unacked;
}

void queue_admin::requeue_unacked() {
    if (impl_->unacked == 0) return;
    // multiple=1 up to the highest tag taken: every one of them still unacked goes back.
    impl_->c.nack(impl_->last_tag, /*multiple*/ true, /*requeue*/ true);
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
    s.ensure_confirming();
    // A requeued dead letter may carry any type: task_properties cuts what does not fit.
    const detail::task_properties p(msg.message_id, msg.type, msg.timestamp, msg.expiration_ms);
    const auto deadline = clock::now() + confirm_timeout;
    const std::uint64_t tag = c.publish(msg.routing_key, p.get(), msg.body);
    c.flush();
    return s.await_confirm(tag, msg.message_id, deadline);
}

void queue_admin::declare_fanout(const std::string& exchange) {
    auto& c = impl_->c;
    amqp_exchange_declare(c.get(), detail::channel, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes("fanout"),
                          /*passive*/ 0, /*durable*/ 1, /*auto_delete*/ 0, /*internal*/ 0, amqp_empty_table);
    c.check(amqp_get_rpc_reply(c.get()), "declare exchange '" + exchange + "'");
    amqp_maybe_release_buffers(c.get());
}

void queue_admin::publish_event(const std::string& exchange, const std::string& body) {
    auto& c = impl_->c;
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 1;  // transient
    const amqp_bytes_t bytes{body.size(), const_cast<char*>(body.data())};
    c.check(amqp_basic_publish(c.get(), detail::channel, amqp_cstring_bytes(exchange.c_str()), amqp_empty_bytes,
                               /*mandatory*/ 0, /*immediate*/ 0, &props, bytes),
            "publish an event to '" + exchange + "'");
}

publish_outcome queue_admin::publish_event(const std::string& exchange, const std::string& body,
                                           const std::string& message_id, std::chrono::milliseconds confirm_timeout) {
    auto& s = *impl_;
    auto& c = s.c;
    s.ensure_confirming();
    const detail::task_properties p(message_id, "event", 0);
    const auto deadline = clock::now() + confirm_timeout;
    const std::uint64_t tag = c.publish_to(exchange, {}, p.get(), body);
    c.flush();
    return s.await_confirm(tag, message_id, deadline);
}

std::string queue_admin::declare_listener(const std::string& exchange, std::chrono::milliseconds ttl) {
    auto& c = impl_->c;
    amqp_table_entry_t entry;
    entry.key = amqp_cstring_bytes("x-message-ttl");
    entry.value.kind = AMQP_FIELD_KIND_I64;
    entry.value.value.i64 = ttl.count();
    const amqp_table_t args{1, &entry};
    auto* ok = amqp_queue_declare(c.get(), detail::channel, amqp_empty_bytes, /*passive*/ 0, /*durable*/ 0,
                                  /*exclusive*/ 1, /*auto_delete*/ 1, args);
    c.check(amqp_get_rpc_reply(c.get()), "declare a listener queue on '" + exchange + "'");
    std::string name(static_cast<const char*>(ok->queue.bytes), ok->queue.len);
    amqp_queue_bind(c.get(), detail::channel, amqp_cstring_bytes(name.c_str()), amqp_cstring_bytes(exchange.c_str()),
                    amqp_empty_bytes, amqp_empty_table);
    c.check(amqp_get_rpc_reply(c.get()), "bind the listener queue to '" + exchange + "'");
    amqp_maybe_release_buffers(c.get());
    return name;
}

void queue_admin::close() noexcept {
    if (impl_) impl_->c.close();
}

}  // namespace pfo3::queue
