#pragma once
// Private to the queue module: one AMQP connection with channel 1 open, wrapped for RAII, and
// the one translator from rabbitmq-c results to pfo3::service_error. Not thread-safe: it lives
// on the owner thread of a publisher or consumer.
#include <amqp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "pfo3/core/error.hpp"
#include "pfo3/queue/amqp_url.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::queue::detail {

/// The channel every pfo3 connection uses (one channel per connection by design).
inline constexpr amqp_channel_t channel = 1;

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

/// A logged-in connection with channel 1 open. The constructor connects; it throws
/// service_error on failure, having answered a broker's close where it could.
class connection {
public:
    /// Opens TCP (or TLS), logs in with heartbeat `heartbeat_s`, opens channel 1.
    connection(const amqp_url& url, const std::string& name, int heartbeat_s);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// The raw state, for the owner thread's calls into rabbitmq-c.
    amqp_connection_state_t get() const noexcept { return state_.get(); }
    /// The socket, for poll().
    int fd() const noexcept;
    /// The masked URL, for errors and logs.
    const std::string& peer() const noexcept { return peer_; }
    /// The negotiated heartbeat in seconds (0: none).
    int heartbeat() const noexcept;
    /// The negotiated maximum frame size.
    std::size_t frame_max() const noexcept;
    /// True if write_frames() may be used: a plain TCP socket (under TLS only rabbitmq-c
    /// may write, through its SSL object).
    bool raw_writes() const noexcept { return !tls_; }
    /// Writes whole frames encoded by the caller straight to the socket, waiting while the
    /// kernel's send buffer is full (the broker is slow to read, or applies flow control).
    /// Throws service_error (retryable) on a socket error or if nothing could be written for
    /// `stall_limit`. Owner thread only, between rabbitmq-c calls.
    void write_frames(std::string_view bytes, std::chrono::milliseconds stall_limit);

    /// Declares the task queue and its dead-letter queue (SPEC 5).
    void declare(const topology& topo);
    /// Declares topo.retry_queue(base_delay): classic, durable, dead-lettering expired
    /// messages to topo.queue through the default exchange, x-expires retry_queue_expiry().
    void declare_retry_queue(const topology& topo, std::chrono::milliseconds base_delay);
    /// Throws make_error(reply) unless the reply is normal; answers a broker close first.
    void check(const amqp_rpc_reply_t& reply, std::string_view op);
    /// Throws make_error(status) unless it is AMQP_STATUS_OK.
    void check(int status, std::string_view op);
    /// Answers a channel.close or connection.close from the broker (close-ok), so the broker
    /// logs a clean close; the connection is unusable afterwards.
    void answer_close(const amqp_method_t& method) noexcept;
    /// Closes channel and connection politely (bounded by the RPC timeout). Never throws.
    void close() noexcept;

private:
    state_ptr state_;
    std::string peer_;
    bool usable_ = false;
    bool tls_ = false;
};

/// A wake-up signal another thread can raise and the owner thread can poll(): an eventfd.
class wakeup {
public:
    /// Creates the eventfd; throws service_error if the kernel refuses.
    wakeup();
    ~wakeup();
    wakeup(const wakeup&) = delete;
    wakeup& operator=(const wakeup&) = delete;
    /// Makes fd() readable (thread-safe, never blocks).
    void notify() noexcept;
    /// Clears the signal (owner thread).
    void drain() noexcept;
    /// The descriptor to poll for POLLIN.
    int fd() const noexcept { return fd_; }

private:
    int fd_ = -1;
};

/// Waits until the socket `sock_fd` (or -1: none) or the wakeup is readable, at most
/// `timeout`. Returns true if the socket is readable (or has an error/hangup to report).
bool wait_readable(int sock_fd, const wakeup& w, std::chrono::milliseconds timeout);

/// The poll interval of an owner loop: short enough to send heartbeats in time and to notice
/// deadlines, long enough to cost nothing.
inline constexpr std::chrono::milliseconds max_poll_interval{500};
/// The heartbeat pfo3 asks for (the broker may lower it).
inline constexpr int heartbeat_seconds = 30;

}  // namespace pfo3::queue::detail
