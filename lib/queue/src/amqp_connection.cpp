#include "amqp_connection.hpp"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "pfo3/core/log.hpp"
#include "publish_frames.hpp"
#include "in_doubt_ids.hpp"
#include "queue_arguments.hpp"

namespace pfo3::queue::detail {

namespace {

// Broker reply codes a reconnect cannot fix: bad credentials or permissions, a missing vhost,
// a queue declared elsewhere with other arguments, a bad name.
bool retryable_reply_code(int code) noexcept {
    switch (code) {
    case 402:  // INVALID_PATH
    case 403:  // ACCESS_REFUSED
    case 404:  // NOT_FOUND
    case 406:  // PRECONDITION_FAILED
    case 530:  // NOT_ALLOWED (e.g. vhost does not exist)
    case 540:  // NOT_IMPLEMENTED
        return false;
    default:
        return true;
    }
}

bool retryable_status(int status) noexcept {
    switch (status) {
    case AMQP_STATUS_INCOMPATIBLE_AMQP_VERSION:
    case AMQP_STATUS_BAD_URL:
    case AMQP_STATUS_INVALID_PARAMETER:
    case AMQP_STATUS_BROKER_UNSUPPORTED_SASL_METHOD:
    case AMQP_STATUS_UNSUPPORTED:
    case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
    case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
        return false;
    default:
        return true;
    }
}

std::string prefix(std::string_view op, std::string_view peer) {
    std::string s(op);
    s += " on ";
    s += peer;
    s += ": ";
    return s;
}

amqp_table_entry_t bool_entry(const char* key, bool v) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    e.value.value.boolean = v ? 1 : 0;
    return e;
}

amqp_table_entry_t utf8_entry(const char* key, const char* v) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes(v);
    return e;
}

// The time left until `until` as a timeval; zero once past it (and for the zero time_point,
// without asking the clock: that is the hot path's "only what is here now").
timeval time_left(clock::time_point until) {
    if (until == clock::time_point{}) return timeval{0, 0};
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - clock::now());
    if (left.count() < 0) left = std::chrono::microseconds(0);
    return timeval{static_cast<time_t>(left.count() / 1000000), static_cast<suseconds_t>(left.count() % 1000000)};
}

}  // namespace

service_error make_error(int status, std::string_view op, std::string_view peer) {
    std::string s = prefix(op, peer);
    s += amqp_error_string2(status);
    char code[32];
    std::snprintf(code, sizeof code, " (rabbitmq-c status %d)", status);
    s += code;
    return service_error(std::move(s), retryable_status(status));
}

service_error make_close_error(const amqp_method_t& method, std::string_view op, std::string_view peer) {
    std::string s = prefix(op, peer);
    int code = 0;
    if (method.id == AMQP_CONNECTION_CLOSE_METHOD && method.decoded) {
        const auto* m = static_cast<const amqp_connection_close_t*>(method.decoded);
        code = m->reply_code;
        s += "connection closed by the broker: " + std::to_string(code) + " " + text(m->reply_text);
    } else if (method.id == AMQP_CHANNEL_CLOSE_METHOD && method.decoded) {
        const auto* m = static_cast<const amqp_channel_close_t*>(method.decoded);
        code = m->reply_code;
        s += "channel closed by the broker: " + std::to_string(code) + " " + text(m->reply_text);
    } else {
        s += "unexpected method ";
        s += amqp_method_name(method.id);
    }
    return service_error(std::move(s), retryable_reply_code(code));
}

service_error make_error(const amqp_rpc_reply_t& reply, std::string_view op, std::string_view peer) {
    switch (reply.reply_type) {
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return make_error(reply.library_error, op, peer);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        return make_close_error(reply.reply, op, peer);
    case AMQP_RESPONSE_NONE:
        return service_error(prefix(op, peer) + "no reply from rabbitmq-c", true);
    case AMQP_RESPONSE_NORMAL:
        break;
    }
    return service_error(prefix(op, peer) + "unexpected success reported as an error", true);
}

void state_deleter::operator()(amqp_connection_state_t s) const noexcept {
    // Also deletes the socket object and closes the descriptor.
    amqp_destroy_connection(s);
}

// amqps://: peer and host name verified unless [amqp.tls] turns them off in writing (then a
// warning at every connect); TLS 1.2 at least; never a fallback to plaintext.
void connection::set_up_tls(amqp_socket_t* sock, const amqp_url& url) {
    const amqp_tls_options& o = url.tls_options;
    static constexpr const char* system_cas = "/etc/ssl/certs/ca-certificates.crt";
    if (!o.ca_file.empty())
        check(amqp_ssl_socket_set_cacert(sock, o.ca_file.c_str()), "load amqp.tls.ca_file " + o.ca_file);
    else if (::access(system_cas, R_OK) == 0)
        check(amqp_ssl_socket_set_cacert(sock, system_cas), "load CA bundle");
    if (!o.cert_file.empty()) {
        const std::string& key = o.key_file.empty() ? o.cert_file : o.key_file;
        check(amqp_ssl_socket_set_key(sock, o.cert_file.c_str(), key.c_str()),
              "load amqp.tls.cert_file " + o.cert_file + " and its key");
    }
    check(amqp_ssl_socket_set_ssl_versions(sock, AMQP_TLSv1_2, AMQP_TLSvLATEST), "set TLS versions");
    amqp_ssl_socket_set_verify_peer(sock, o.verify_peer ? 1 : 0);
    amqp_ssl_socket_set_verify_hostname(sock, o.verify_hostname ? 1 : 0);
    if (!o.verify_peer || !o.verify_hostname)
        PFO3_LOG(warn, "TLS to the broker without full verification: anyone on the path can pose as it",
                 {{"broker", peer_}, {"verify_peer", o.verify_peer ? "true" : "false"},
                  {"verify_hostname", o.verify_hostname ? "true" : "false"}});
}

connection::connection(const amqp_url& url, const std::string& name, int heartbeat_s,
                       std::chrono::milliseconds connect_timeout_ms)
    : state_(amqp_new_connection()), peer_(url.masked()), tls_(url.tls) {
    if (!state_) throw service_error(prefix("connect", peer_) + "out of memory", true);
    auto* s = state_.get();
    amqp_socket_t* sock = url.tls ? amqp_ssl_socket_new(s) : amqp_tcp_socket_new(s);
    if (!sock) throw service_error(prefix("connect", peer_) + "cannot create a socket", true);
    if (url.tls) set_up_tls(sock, url);
    timeval connect_timeout{static_cast<time_t>(connect_timeout_ms.count() / 1000),
                            static_cast<suseconds_t>(connect_timeout_ms.count() % 1000 * 1000)};
    check(amqp_socket_open_noblock(sock, url.host.c_str(), url.port, &connect_timeout), "connect");

    // Bounds the login and every RPC (declare, qos, close): a broker that accepts TCP but never
    // answers must not hang the owner thread.
    timeval rpc_timeout{10, 0};
    amqp_set_handshake_timeout(s, &rpc_timeout);
    amqp_set_rpc_timeout(s, &rpc_timeout);

    amqp_table_entry_t caps[] = {
        bool_entry("connection.blocked", true),
        bool_entry("consumer_cancel_notify", true),
        bool_entry("publisher_confirms", true),
        bool_entry("basic.nack", true),
    };
    amqp_table_entry_t props[2];
    props[0] = utf8_entry("connection_name", name.c_str());
    props[1].key = amqp_cstring_bytes("capabilities");
    props[1].value.kind = AMQP_FIELD_KIND_TABLE;
    props[1].value.value.table.num_entries = static_cast<int>(std::size(caps));
    props[1].value.value.table.entries = caps;
    amqp_table_t table{static_cast<int>(std::size(props)), props};

    // EXTERNAL: the broker takes the user from the certificate and ignores the identity sent,
    // which rabbitmq-c needs non-empty (SERVICES.md).
    auto reply = url.tls && url.tls_options.sasl_external
                     ? amqp_login_with_properties(s, url.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat_s, &table,
                                                  AMQP_SASL_METHOD_EXTERNAL, url.user.empty() ? "certificate" : url.user.c_str())
                     : amqp_login_with_properties(s, url.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat_s, &table,
                                                  AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
    usable_ = reply.reply_type == AMQP_RESPONSE_NORMAL;
    check(reply, "login");

    amqp_channel_open(s, channel);
    check(amqp_get_rpc_reply(s), "channel.open");
}

int connection::fd() const noexcept { return amqp_get_sockfd(state_.get()); }

int connection::heartbeat() const noexcept { return amqp_get_heartbeat(state_.get()); }

std::size_t connection::frame_max() const noexcept {
    // 4096: AMQP 0-9-1 frame-min-size, what a broker must accept whatever was negotiated.
    return static_cast<std::size_t>(std::max(amqp_get_frame_max(state_.get()), 4096));
}

void connection::write_frames(std::string_view bytes) {
    const int sock = fd();
    while (!bytes.empty()) {
        ssize_t n = ::send(sock, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            usable_ = false;
            throw service_error(prefix("publish", peer_) + "write to the broker failed: " + std::strerror(errno),
                                true);
        }
        // The socket is non-blocking (rabbitmq-c opened it so): wait until it takes more.
        pollfd p{sock, POLLOUT, 0};
        const auto stall_ms = std::chrono::milliseconds(write_stall_limit).count();
        int rc = ::poll(&p, 1, static_cast<int>(stall_ms));
        if (rc == 0) {
            usable_ = false;
            throw service_error(prefix("publish", peer_) + "the broker took no data for " + std::to_string(stall_ms) +
                                    " ms",
                                true);
        }
        if (rc < 0 && errno != EINTR) {
            usable_ = false;
            throw service_error(prefix("publish", peer_) + "poll failed: " + std::strerror(errno), true);
        }
    }
}

void connection::declare_durable(const std::string& name, amqp_table_t args, std::string_view what) {
    amqp_queue_declare(get(), channel, as_bytes(name), /*passive*/ 0, /*durable*/ 1, /*exclusive*/ 0,
                       /*auto_delete*/ 0, args);
    check(amqp_get_rpc_reply(get()), std::string(what) + " '" + name + "'");
}

void connection::declare(const topology& topo) {
    // Classic: no arguments (unless max_priority), exactly like the teaching system's queue_declare, since
    // RabbitMQ refuses a redeclaration with different arguments (406 PRECONDITION_FAILED).
    // Quorum, or [amqp] max_priority: the arguments of queue_arguments.hpp (decisions 0013, 0012).
    const auto task_args = task_queue_arguments(topo);
    const auto dead_args = dead_queue_arguments(topo);
    // The dead queue first: the task queue dead-letters into it.
    declare_durable(topo.dead_queue(), argument_table(dead_args).get(), "declare queue");
    declare_durable(topo.queue, argument_table(task_args).get(), "declare queue");
}

void connection::confirm_select() {
    amqp_confirm_select(get(), channel);
    check(amqp_get_rpc_reply(get()), "confirm.select");
    next_tag_ = 1;  // delivery tags count from 1 per channel once confirms are on
}

std::int64_t delivery_count(const amqp_table_t& headers) noexcept {
    static constexpr std::string_view key = "x-delivery-count";
    for (int i = 0; i < headers.num_entries; ++i) {
        const auto& e = headers.entries[i];
        if (std::string_view(static_cast<const char*>(e.key.bytes), e.key.len) != key) continue;
        const auto& v = e.value;
        switch (v.kind) {
        case AMQP_FIELD_KIND_I8: return v.value.i8;
        case AMQP_FIELD_KIND_U8: return v.value.u8;
        case AMQP_FIELD_KIND_I16: return v.value.i16;
        case AMQP_FIELD_KIND_U16: return v.value.u16;
        case AMQP_FIELD_KIND_I32: return v.value.i32;
        case AMQP_FIELD_KIND_U32: return v.value.u32;
        case AMQP_FIELD_KIND_I64: return v.value.i64;
        case AMQP_FIELD_KIND_U64:
            return static_cast<std::int64_t>(std::min<std::uint64_t>(v.value.u64, INT64_MAX));
        default: return -1;
        }
    }
    return -1;
}

bool maybe_copy(const amqp_table_t& headers) noexcept {
    for (int i = 0; i < headers.num_entries; ++i) {
        const auto& e = headers.entries[i];
        if (std::string_view(static_cast<const char*>(e.key.bytes), e.key.len) == copy_header)
            return e.value.kind == AMQP_FIELD_KIND_BOOLEAN && e.value.value.boolean != 0;
    }
    return false;
}

amqp_basic_qos_t qos_request(std::uint16_t prefetch) noexcept {
    amqp_basic_qos_t q{};
    q.prefetch_size = 0;
    q.prefetch_count = prefetch;
    // Never global: quorum queues do not support a channel-wide (global) prefetch, and a
    // consumer's own limit is what bounds the deliveries a worker holds.
    q.global = 0;
    return q;
}

void connection::qos(std::uint16_t prefetch) {
    amqp_basic_qos_t q = qos_request(prefetch);
    amqp_method_number_t ok = AMQP_BASIC_QOS_OK_METHOD;
    (void)amqp_simple_rpc_decoded(get(), channel, AMQP_BASIC_QOS_METHOD, ok, &q);
    check(amqp_get_rpc_reply(get()), "basic.qos");
}

void connection::consume(const std::string& queue) {
    auto* ok = amqp_basic_consume(get(), channel, as_bytes(queue), amqp_empty_bytes, /*no_local*/ 0, /*no_ack*/ 0,
                                  /*exclusive*/ 0, amqp_empty_table);
    check(amqp_get_rpc_reply(get()), "basic.consume");
    consumer_tag_ = ok ? text(ok->consumer_tag) : std::string();
    consumed_queue_ = queue;
}

void connection::cancel_consume() {
    amqp_basic_cancel(get(), channel, as_bytes(consumer_tag_));
    check(amqp_get_rpc_reply(get()), "basic.cancel");
}

std::uint64_t connection::publish(std::string_view routing_key, const amqp_basic_properties_t& props,
                                  std::string_view body) {
    return publish_to({}, routing_key, props, body);
}

std::uint64_t connection::publish_to(std::string_view exchange, std::string_view routing_key,
                                     const amqp_basic_properties_t& props, std::string_view body) {
    if (!tls_) {
        append_publish(out_, channel, as_bytes(exchange), as_bytes(routing_key), /*mandatory*/ true, props, body,
                       frame_max());
        if (out_.size() >= flush_bytes) flush();
    } else {
        check(amqp_basic_publish(get(), channel, as_bytes(exchange), as_bytes(routing_key), /*mandatory*/ 1,
                                 /*immediate*/ 0, &props, as_bytes(body)),
              "basic.publish");
    }
    return next_tag_ == 0 ? 0 : next_tag_++;
}

void connection::flush() {
    if (out_.empty()) return;
    write_frames(out_);
    // Keep the allocation for the next batch unless one huge message grew it.
    if (out_.capacity() > 2 * flush_bytes) std::string().swap(out_);
    else out_.clear();
}

std::optional<confirm> connection::read_confirm(clock::time_point until, std::string_view op) {
    for (;;) {
        // What an earlier call returned was copied out of rabbitmq-c's buffers.
        amqp_maybe_release_buffers(get());
        amqp_frame_t f;
        timeval tv = time_left(until);
        int st = amqp_simple_wait_frame_noblock(get(), &f, &tv);
        if (st == AMQP_STATUS_TIMEOUT) return std::nullopt;
        check(st, op);
        last_rx_ = clock::now();
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        const amqp_method_t& m = f.payload.method;
        confirm c;
        switch (m.id) {
        case AMQP_BASIC_ACK_METHOD: {
            const auto* a = static_cast<const amqp_basic_ack_t*>(m.decoded);
            c.tag = a->delivery_tag;
            c.multiple = a->multiple != 0;
            return c;
        }
        case AMQP_BASIC_NACK_METHOD: {
            const auto* n = static_cast<const amqp_basic_nack_t*>(m.decoded);
            c.what = confirm::kind::nack;
            c.tag = n->delivery_tag;
            c.multiple = n->multiple != 0;
            return c;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            c.what = confirm::kind::returned;
            // Copied before reading the message, which reuses the frame buffers.
            if (const auto* r = static_cast<const amqp_basic_return_t*>(m.decoded)) {
                c.reason = std::to_string(r->reply_code) + " " + text(r->reply_text);
                c.routing_key = text(r->routing_key);
            }
            amqp_message_t msg;
            check(amqp_read_message(get(), channel, &msg, 0), op);
            message_guard guard{msg};
            if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) c.message_id = text(msg.properties.message_id);
            return c;
        }
        case AMQP_CONNECTION_BLOCKED_METHOD:
            c.what = confirm::kind::blocked;
            if (const auto* b = static_cast<const amqp_connection_blocked_t*>(m.decoded)) c.reason = text(b->reason);
            return c;
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            c.what = confirm::kind::unblocked;
            return c;
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
            throw_close(m, op);
        default:
            PFO3_LOG(debug, "ignored a frame from the broker", {{"method", amqp_method_name(m.id)}});
        }
    }
}

bool connection::next_delivery(envelope& out, clock::time_point until, std::string_view op) {
    out.clear();
    for (;;) {
        amqp_maybe_release_buffers(get());
        timeval tv = time_left(until);
        out.used_ = true;
        auto r = amqp_consume_message(get(), &out.e_, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            last_rx_ = clock::now();
            return true;
        }
        if (r.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION) check(r, op);
        if (r.library_error == AMQP_STATUS_TIMEOUT) return false;
        if (r.library_error != AMQP_STATUS_UNEXPECTED_STATE) check(r, op);
        // A frame other than basic.deliver: rabbitmq-c put it back for us to read.
        amqp_frame_t f;
        timeval zero{0, 0};
        int st = amqp_simple_wait_frame_noblock(get(), &f, &zero);
        if (st == AMQP_STATUS_TIMEOUT) return false;
        check(st, op);
        last_rx_ = clock::now();
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        const amqp_method_t& m = f.payload.method;
        switch (m.id) {
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
            throw_close(m, op);
        case AMQP_BASIC_CANCEL_METHOD: {
            const auto* bc = static_cast<const amqp_basic_cancel_t*>(m.decoded);
            if (bc && !bc->nowait) {
                amqp_basic_cancel_ok_t ok{bc->consumer_tag};
                (void)amqp_send_method(get(), channel, AMQP_BASIC_CANCEL_OK_METHOD, &ok);
            }
            throw service_error(prefix(op, peer_) + "the broker cancelled the consumer of '" + consumed_queue_ +
                                    "' (queue deleted or node down?)",
                                true);
        }
        default:
            PFO3_LOG(debug, "ignored a frame from the broker", {{"method", amqp_method_name(m.id)}});
        }
    }
}

void connection::ack(std::uint64_t tag, bool multiple) {
    check(amqp_basic_ack(get(), channel, tag, multiple ? 1 : 0), "basic.ack");
}

void connection::nack(std::uint64_t tag, bool multiple, bool requeue) {
    check(amqp_basic_nack(get(), channel, tag, multiple ? 1 : 0, requeue ? 1 : 0), "basic.nack");
}

void connection::wait(int wake_fd, clock::time_point until, std::string_view op) {
    const auto now = clock::now();
    const auto hb = std::chrono::seconds(heartbeat());
    if (hb.count() > 0 && now - last_rx_ > 2 * hb)
        throw service_error(prefix(op, peer_) + "no heartbeat from the broker for " + std::to_string(2 * hb.count()) +
                                " s",
                            true);
    auto timeout = std::chrono::milliseconds(0);
    // Frames rabbitmq-c already holds would not make the socket readable.
    if (!amqp_frames_enqueued(get()) && !amqp_data_in_buffer(get())) {
        // +1 ms: a wait cut short by the rounding down would only go round again.
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::min(until, now + max_poll_interval) - now);
        timeout = std::max(left, std::chrono::milliseconds(0)) + std::chrono::milliseconds(1);
    }
    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {fd(), POLLIN, 0}};
    // 0 is a timeout and < 0 EINTR: either way the owner's loop simply goes round again.
    if (::poll(fds, 2, static_cast<int>(timeout.count())) > 0 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)))
        last_rx_ = clock::now();  // something arrived (or an error, which the next read reports)
}

void connection::check(const amqp_rpc_reply_t& reply, std::string_view op) {
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
        last_rx_ = clock::now();  // an RPC's reply came from the broker
        return;
    }
    auto err = make_error(reply, op, peer_);
    if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) answer_close(reply.reply);
    throw err;
}

void connection::check(int status, std::string_view op) {
    if (status != AMQP_STATUS_OK) throw make_error(status, op, peer_);
}

void connection::throw_close(const amqp_method_t& method, std::string_view op) {
    auto err = make_close_error(method, op, peer_);
    answer_close(method);
    throw err;
}

void connection::answer_close(const amqp_method_t& method) noexcept {
    if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_ok_t ok{};
        (void)amqp_send_method(get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        usable_ = false;
    } else if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_ok_t ok{};
        if (amqp_send_method(get(), channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK) {
            usable_ = false;
            return;
        }
        // The channel is gone; close the connection too so the owner starts afresh.
        (void)amqp_connection_close(get(), AMQP_REPLY_SUCCESS);
        usable_ = false;
    }
}

void connection::close() noexcept {
    if (!usable_) return;
    usable_ = false;
    // connection.close implicitly closes the channel; one RPC instead of two.
    (void)amqp_connection_close(get(), AMQP_REPLY_SUCCESS);
}

task_properties::task_properties(std::string_view message_id, std::string_view type, std::int64_t timestamp,
                                 std::int64_t expiration_ms, int priority, bool maybe_copy) noexcept {
    static constexpr std::string_view json = "application/json";
    p_._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                AMQP_BASIC_TIMESTAMP_FLAG;
    p_.content_type = as_bytes(json);
    p_.delivery_mode = 2;  // persistent
    p_.message_id = as_bytes(message_id);
    p_.timestamp = static_cast<std::uint64_t>(std::max<std::int64_t>(0, timestamp));
    if (!type.empty()) {
        p_._flags |= AMQP_BASIC_TYPE_FLAG;
        p_.type = as_bytes(type);
    }
    if (expiration_ms >= 0) {
        const auto [end, ec] = std::to_chars(expiration_, expiration_ + sizeof expiration_, expiration_ms);
        (void)ec;  // 24 characters hold every int64
        p_._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        p_.expiration = amqp_bytes_t{static_cast<std::size_t>(end - expiration_), expiration_};
    }
    if (priority > 0) {
        p_._flags |= AMQP_BASIC_PRIORITY_FLAG;
        p_.priority = static_cast<std::uint8_t>(std::min(priority, 255));
    }
    if (maybe_copy) {
        copy_.key = as_bytes(copy_header);
        copy_.value.kind = AMQP_FIELD_KIND_BOOLEAN;
        copy_.value.value.boolean = 1;
        p_._flags |= AMQP_BASIC_HEADERS_FLAG;
        p_.headers = amqp_table_t{1, &copy_};
    }
    fit_short_strings(p_);
}

void envelope::clear() noexcept {
    if (!used_) return;
    amqp_destroy_envelope(&e_);
    used_ = false;
}

}  // namespace pfo3::queue::detail
