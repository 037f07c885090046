#pragma once
// A small blocking AMQP client for operator commands (`pfo3 dead`): one connection, one
// channel, used on the calling thread only (not thread-safe). Every call is bounded: RPCs by
// the connection's RPC timeout (10 s), publish() by the confirm timeout it is given.
//
// Use one instance to read (get/ack/requeue) and another to publish, as pfo3 does everywhere:
// a broker that blocks publishers (resource alarm) must not also stall the reader's acks.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pfo3/queue/amqp_url.hpp"
#include "pfo3/queue/publisher.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::queue {

/// One message taken with basic.get and not yet acknowledged.
struct fetched_message {
    std::uint64_t tag = 0;        ///< delivery tag, for ack()
    bool redelivered = false;
    std::uint32_t remaining = 0;  ///< ready messages left in the queue after this one
    std::string body;
    std::string message_id;
    std::string type;
};

/// See the file comment. Messages taken and not acked go back to their queue, in their
/// original positions, on requeue_unacked() or when the connection closes.
class queue_admin {
public:
    /// Connects and logs in; throws service_error naming the peer (retryable() is false for
    /// what a retry cannot fix, such as bad credentials).
    queue_admin(const amqp_url& url, const std::string& connection_name);
    /// Closes politely (never throws).
    ~queue_admin();
    queue_admin(const queue_admin&) = delete;
    queue_admin& operator=(const queue_admin&) = delete;

    /// Declares the task queue and its dead-letter queue as the other roles do.
    void declare(const topology& topo);
    /// Ready messages in `queue` (passive declare: the queue must exist).
    std::uint32_t message_count(const std::string& queue);
    /// Ready messages and consumers of `queue` (passive declare: the queue must exist; a
    /// missing one closes the channel, and this object is then unusable).
    struct queue_info {
        std::uint32_t messages = 0;
        std::uint32_t consumers = 0;
    };
    queue_info inspect(const std::string& queue);
    /// Takes the next message of `queue` without acking it; nullopt when the queue is empty.
    std::optional<fetched_message> get(const std::string& queue);
    /// Acks one message taken by get() (removes it from its queue for good).
    void ack(std::uint64_t tag);
    /// Returns every message taken and not acked to its queue (basic.nack, requeue).
    void requeue_unacked();
    /// Deletes every ready message of `queue`; returns how many there were.
    std::uint32_t purge(const std::string& queue);
    /// Publishes `msg` persistent and mandatory to the default exchange, waits up to
    /// `confirm_timeout` for the broker's confirm. Throws service_error if the connection fails.
    publish_outcome publish(const outgoing_message& msg, std::chrono::milliseconds confirm_timeout);
    /// Declares the fanout exchange `exchange` (durable) that carries pfo3's events.
    void declare_fanout(const std::string& exchange);
    /// Publishes `body` (JSON) transient to `exchange`, without a confirm: for events a
    /// listener may miss (the next one replaces it).
    void publish_event(const std::string& exchange, const std::string& body);
    /// Publishes `body` (JSON) persistent and mandatory to `exchange` and waits up to
    /// `confirm_timeout` for the broker's confirm: for events that must not be lost unseen (a
    /// cancel). `unroutable`: no queue is bound (nobody listens). Throws service_error if the
    /// connection fails.
    publish_outcome publish_event(const std::string& exchange, const std::string& body, const std::string& message_id,
                                  std::chrono::milliseconds confirm_timeout);
    /// Declares a server-named, exclusive, auto-deleted queue bound to `exchange` (its
    /// messages expire after `ttl`, so a slow reader never piles them up); returns its name.
    std::string declare_listener(const std::string& exchange, std::chrono::milliseconds ttl);
    /// Closes the connection (unacked messages go back to their queues). Never throws.
    void close() noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace pfo3::queue
