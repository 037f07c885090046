#pragma once
// Private to the queue module: the one place that speaks rabbitmq-c. A `connection` is one
// logged-in AMQP connection with channel 1 open, wrapped for RAII; it sets the channel up
// (declare, confirm.select, qos, consume), builds and publishes task messages, reads confirms
// and deliveries, and translates every rabbitmq-c failure to a pfo3::service_error. Not
// thread-safe: it lives on one owner thread (decision 0002). The reconnect loop around it is
// amqp_session.hpp.
#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pfo3/core/error.hpp"
#include "pfo3/queue/amqp_url.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::queue::detail {

using clock = std::chrono::steady_clock;

/// The channel every pfo3 connection uses (one channel per connection by design).
inline constexpr amqp_channel_t channel = 1;

/// A string as rabbitmq-c's byte view (which is not const-correct; rabbitmq-c only reads it).
inline amqp_bytes_t as_bytes(std::string_view s) noexcept {
    return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}
/// rabbitmq-c bytes as a string.
inline std::string text(amqp_bytes_t b) {
    return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

/// The one translator: a failed RPC reply as a service_error naming the operation, the peer
/// (masked URL) and the library's or broker's text. `retryable` is false for what a reconnect
/// cannot fix (access refused, missing vhost, a queue declared with other arguments).
service_error make_error(const amqp_rpc_reply_t& reply, std::string_view op, std::string_view peer);
/// The same for a rabbitmq-c status code (AMQP_STATUS_*).
service_error make_error(int status, std::string_view op, std::string_view peer);
/// A failure the broker announced with a method (channel.close / connection.close).
service_error make_close_error(const amqp_method_t& method, std::string_view op, std::string_view peer);

/// Closes and frees the connection state (which also closes its socket).
struct state_deleter {
    void operator()(amqp_connection_state_t s) const noexcept;
};
using state_ptr = std::unique_ptr<amqp_connection_state_t_, state_deleter>;

/// Frees a message read by amqp_read_message.
struct message_guard {
    amqp_message_t& m;
    ~message_guard() { amqp_destroy_message(&m); }
};

/// The properties of a pfo3 task message: JSON, persistent, its id and timestamp, its type and
/// a per-message TTL when given. Short strings are cut to fit (fit_short_strings): a long type
/// (a message published by anything but serve) must not make a publish, typically its dead
/// letter, fail for ever. Points into `message_id` and `type`, which must outlive it.
class task_properties {
public:
    /// `timestamp` in seconds since the epoch (negative: 0); `expiration_ms` < 0: no TTL.
    /// `priority` 0: none. `maybe_copy`: the header copy_header (in_doubt_ids.hpp) is set.
    task_properties(std::string_view message_id, std::string_view type, std::int64_t timestamp,
                    std::int64_t expiration_ms = -1, int priority = 0, bool maybe_copy = false) noexcept;
    task_properties(const task_properties&) = delete;
    task_properties& operator=(const task_properties&) = delete;
    const amqp_basic_properties_t& get() const noexcept { return p_; }

private:
    amqp_basic_properties_t p_{};
    char expiration_[24];  // the TTL as decimal text, which is how AMQP carries it
    amqp_table_entry_t copy_{};  // the one header a pfo3 task message may carry
};

/// The x-delivery-count header of a quorum queue's delivery; -1 if absent or not an integer.
std::int64_t delivery_count(const amqp_table_t& headers) noexcept;
/// True if the header copy_header (in_doubt_ids.hpp) is there and true.
bool maybe_copy(const amqp_table_t& headers) noexcept;

/// The basic.qos connection::qos sends: `prefetch` deliveries per consumer, never global.
amqp_basic_qos_t qos_request(std::uint16_t prefetch) noexcept;

/// What connection::read_confirm read for a channel in confirm mode.
struct confirm {
    enum class kind {
        ack,        ///< basic.ack: the broker took the publishes `covers` names
        nack,       ///< basic.nack: it refused them
        returned,   ///< basic.return (mandatory, no queue): the ack of that message follows
        blocked,    ///< connection.blocked: a resource alarm; publishing would stall
        unblocked,  ///< connection.unblocked
    };
    kind what = kind::ack;
    std::uint64_t tag = 0;  ///< ack/nack: a delivery tag of this channel
    bool multiple = false;  ///< ack/nack: every tag up to `tag` (0: every tag)
    std::string message_id;   ///< returned: the message's id property
    std::string routing_key;  ///< returned: where it was published to
    std::string reason;       ///< returned: reply code and text; blocked: the broker's reason

    /// True if this ack/nack settles the publish with delivery tag `t`.
    bool covers(std::uint64_t t) const noexcept { return multiple ? (tag == 0 || t <= tag) : t == tag; }
};

/// A delivery read by connection::next_delivery. Owns rabbitmq-c's copy of the message until
/// the next read into it or its end.
class envelope {
public:
    envelope() = default;
    ~envelope() { clear(); }
    envelope(const envelope&) = delete;
    envelope& operator=(const envelope&) = delete;
    const amqp_envelope_t* operator->() const noexcept { return &e_; }

private:
    friend class connection;
    void clear() noexcept;
    amqp_envelope_t e_{};
    bool used_ = false;  // rabbitmq-c wrote into e_ (it zeroes it first, so destroying is safe)
};

/// A logged-in connection with channel 1 open. The constructor connects; it throws
/// service_error on failure, having answered a broker's close where it could.
class connection {
public:
    /// Opens TCP (or TLS) within `connect_timeout`, logs in with heartbeat `heartbeat_s`,
    /// opens channel 1.
    connection(const amqp_url& url, const std::string& name, int heartbeat_s,
               std::chrono::milliseconds connect_timeout = std::chrono::seconds(5));
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// The raw state, for the owner thread's own calls into rabbitmq-c.
    amqp_connection_state_t get() const noexcept { return state_.get(); }
    /// The socket, for poll().
    int fd() const noexcept;
    /// The masked URL, for errors and logs.
    const std::string& peer() const noexcept { return peer_; }
    /// The negotiated heartbeat in seconds (0: none).
    int heartbeat() const noexcept;

    // Channel set-up.
    /// Declares the task queue and its dead-letter queue (SPEC 5).
    void declare(const topology& topo);
    /// Declares a durable queue `name` with `args`; `what` names it in an error.
    void declare_durable(const std::string& name, amqp_table_t args, std::string_view what);
    /// Puts the channel in confirm mode: from now on publish() returns delivery tags 1, 2, ...
    void confirm_select();
    /// basic.qos: at most `prefetch` unacked deliveries on this channel.
    void qos(std::uint16_t prefetch);
    /// basic.consume of `queue` with manual acks.
    void consume(const std::string& queue);
    /// basic.cancel of what consume() started; deliveries already sent may still arrive.
    void cancel_consume();

    // Publishing.
    /// Publishes one persistent mandatory message to the default exchange; returns its
    /// delivery tag (0 before confirm_select). On a plain TCP socket the frames are encoded by
    /// pfo3 (publish_frames.hpp) and buffered, written once `flush_bytes` are waiting or by
    /// flush(); under TLS rabbitmq-c writes each message at once (only it may write, through
    /// its SSL object). Throws service_error if a write fails or stalls.
    std::uint64_t publish(std::string_view routing_key, const amqp_basic_properties_t& props, std::string_view body);
    /// The same through `exchange` (the delay ladder's).
    std::uint64_t publish_to(std::string_view exchange, std::string_view routing_key,
                             const amqp_basic_properties_t& props, std::string_view body);
    /// Writes what publish() buffered (no-op if nothing).
    void flush();
    /// Reads frames until a confirm event arrives (returned) or `until` passes (nullopt); a
    /// time already past reads only what is buffered or readable now. Other frames are
    /// skipped; a channel.close or connection.close is answered and thrown as service_error
    /// naming `op`.
    std::optional<confirm> read_confirm(clock::time_point until, std::string_view op);

    // Consuming.
    /// Reads the next delivery into `out` (true) or returns false once `until` passes (a
    /// time already past reads only what is here now). A close, or a basic.cancel from the
    /// broker (queue deleted, node down), is answered and thrown as service_error naming `op`.
    bool next_delivery(envelope& out, clock::time_point until, std::string_view op);
    void ack(std::uint64_t tag, bool multiple);
    void nack(std::uint64_t tag, bool multiple, bool requeue);

    /// The owner loop's pause: throws service_error naming `op` if the broker sent nothing
    /// for two heartbeat intervals, else waits until the socket or `wake_fd` is readable,
    /// `until` passes or max_poll_interval is up (not at all if rabbitmq-c holds frames).
    void wait(int wake_fd, clock::time_point until, std::string_view op);

    /// Throws make_error(reply) unless the reply is normal; answers a broker close first.
    void check(const amqp_rpc_reply_t& reply, std::string_view op);
    /// Throws make_error(status) unless it is AMQP_STATUS_OK.
    void check(int status, std::string_view op);
    /// CA, client certificate, versions, verification and its warning for an amqps:// socket.
    void set_up_tls(amqp_socket_t* sock, const amqp_url& url);
    /// Answers a channel.close or connection.close from the broker (close-ok), so the broker
    /// logs a clean close; the connection is unusable afterwards.
    void answer_close(const amqp_method_t& method) noexcept;
    /// Closes channel and connection politely (bounded by the RPC timeout). Never throws.
    void close() noexcept;

private:
    std::size_t frame_max() const noexcept;
    void write_frames(std::string_view bytes);
    [[noreturn]] void throw_close(const amqp_method_t& method, std::string_view op);

    state_ptr state_;
    std::string peer_;
    bool usable_ = false;
    bool tls_ = false;
    std::uint64_t next_tag_ = 0;  // 0: not in confirm mode
    std::string out_;             // encoded publishes not yet written
    std::string consumer_tag_, consumed_queue_;
    clock::time_point last_rx_;   // the last time the broker sent anything
};

/// The poll interval of an owner loop: short enough to send heartbeats in time and to notice
/// deadlines, long enough to cost nothing.
inline constexpr std::chrono::milliseconds max_poll_interval{500};
/// The heartbeat pfo3 asks for (the broker may lower it).
inline constexpr int heartbeat_seconds = 30;
/// Publishes are written once this many bytes of frames are buffered (and on flush()).
inline constexpr std::size_t flush_bytes = 256 * 1024;
/// A broker that takes no bytes at all for this long is treated as gone.
inline constexpr std::chrono::seconds write_stall_limit{30};

}  // namespace pfo3::queue::detail
