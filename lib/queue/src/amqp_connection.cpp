#include "amqp_connection.hpp"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace pfo3::queue::detail {

namespace {

std::string bytes_text(amqp_bytes_t b) {
    return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

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
        s += "connection closed by the broker: " + std::to_string(code) + " " + bytes_text(m->reply_text);
    } else if (method.id == AMQP_CHANNEL_CLOSE_METHOD && method.decoded) {
        const auto* m = static_cast<const amqp_channel_close_t*>(method.decoded);
        code = m->reply_code;
        s += "channel closed by the broker: " + std::to_string(code) + " " + bytes_text(m->reply_text);
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

connection::connection(const amqp_url& url, const std::string& name, int heartbeat_s)
    : state_(amqp_new_connection()), peer_(url.masked()), tls_(url.tls) {
    if (!state_) throw service_error(prefix("connect", peer_) + "out of memory", true);
    auto* s = state_.get();
    amqp_socket_t* sock = url.tls ? amqp_ssl_socket_new(s) : amqp_tcp_socket_new(s);
    if (!sock) throw service_error(prefix("connect", peer_) + "cannot create a socket", true);
    if (url.tls) {
        // Peer and host name verification stay on (the library default); trust the system CAs.
        static constexpr const char* system_cas = "/etc/ssl/certs/ca-certificates.crt";
        if (::access(system_cas, R_OK) == 0) check(amqp_ssl_socket_set_cacert(sock, system_cas), "load CA bundle");
    }
    timeval connect_timeout{5, 0};
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

    auto reply = amqp_login_with_properties(s, url.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat_s,
                                            &table, AMQP_SASL_METHOD_PLAIN, url.user.c_str(),
                                            url.password.c_str());
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

void connection::write_frames(std::string_view bytes, std::chrono::milliseconds stall_limit) {
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
        int rc = ::poll(&p, 1, static_cast<int>(stall_limit.count()));
        if (rc == 0) {
            usable_ = false;
            throw service_error(prefix("publish", peer_) + "the broker took no data for " +
                                    std::to_string(stall_limit.count()) + " ms",
                                true);
        }
        if (rc < 0 && errno != EINTR) {
            usable_ = false;
            throw service_error(prefix("publish", peer_) + "poll failed: " + std::strerror(errno), true);
        }
    }
}

void connection::declare(const topology& topo) {
    amqp_table_entry_t quorum = utf8_entry("x-queue-type", "quorum");
    // Classic: no arguments at all, exactly like the teaching system's queue_declare, since
    // RabbitMQ refuses a redeclaration with different arguments (406 PRECONDITION_FAILED).
    amqp_table_t args = topo.queue_type == "quorum" ? amqp_table_t{1, &quorum} : amqp_empty_table;
    const std::string dead = topo.dead_queue();
    for (const std::string* name : {&topo.queue, &dead}) {
        amqp_queue_declare(get(), channel, amqp_cstring_bytes(name->c_str()), /*passive*/ 0, /*durable*/ 1,
                           /*exclusive*/ 0, /*auto_delete*/ 0, args);
        check(amqp_get_rpc_reply(get()), "declare queue '" + *name + "'");
    }
}

void connection::declare_retry_queue(const topology& topo, std::chrono::milliseconds base_delay) {
    const std::string name = topo.retry_queue(base_delay);
    // Always classic, whatever the task queue is: RabbitMQ 3.10 quorum queues ignore
    // per-message TTL (`expiration`), which is what carries each task's jittered delay.
    amqp_table_entry_t args[4];
    args[0] = utf8_entry("x-queue-type", "classic");
    args[1] = utf8_entry("x-dead-letter-exchange", "");
    args[2] = utf8_entry("x-dead-letter-routing-key", topo.queue.c_str());
    args[3].key = amqp_cstring_bytes("x-expires");
    args[3].value.kind = AMQP_FIELD_KIND_I64;
    args[3].value.value.i64 = static_cast<std::int64_t>(retry_queue_expiry(base_delay).count());
    amqp_table_t table{static_cast<int>(std::size(args)), args};
    amqp_queue_declare(get(), channel, amqp_cstring_bytes(name.c_str()), /*passive*/ 0, /*durable*/ 1,
                       /*exclusive*/ 0, /*auto_delete*/ 0, table);
    check(amqp_get_rpc_reply(get()), "declare retry queue '" + name + "'");
}

void connection::check(const amqp_rpc_reply_t& reply, std::string_view op) {
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
    auto err = make_error(reply, op, peer_);
    if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) answer_close(reply.reply);
    throw err;
}

void connection::check(int status, std::string_view op) {
    if (status != AMQP_STATUS_OK) throw make_error(status, op, peer_);
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

wakeup::wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw service_error(std::string("eventfd: ") + std::strerror(errno), false);
}

wakeup::~wakeup() {
    if (fd_ >= 0) ::close(fd_);
}

void wakeup::notify() noexcept {
    std::uint64_t one = 1;
    // EAGAIN only when the counter is saturated, which still leaves it readable.
    ssize_t n = ::write(fd_, &one, sizeof one);
    (void)n;
}

void wakeup::drain() noexcept {
    std::uint64_t v;
    ssize_t n = ::read(fd_, &v, sizeof v);
    (void)n;
}

bool wait_readable(int sock_fd, const wakeup& w, std::chrono::milliseconds timeout) {
    pollfd fds[2] = {{w.fd(), POLLIN, 0}, {sock_fd, POLLIN, 0}};
    nfds_t n = sock_fd >= 0 ? 2 : 1;
    int ms = static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, timeout.count()));
    int rc = ::poll(fds, n, ms);
    if (rc <= 0) return false;  // timeout or EINTR: the caller's loop simply goes round again
    return n == 2 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
}

}  // namespace pfo3::queue::detail
