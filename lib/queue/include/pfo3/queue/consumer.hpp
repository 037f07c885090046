#pragma once
// Consumes one queue with basic.qos(prefetch) and manual acks, on one AMQP connection owned by
// one private thread. Deliveries are handed to a callback on that thread; acks and nacks may
// be requested from any thread and are carried out by the owner thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "pfo3/queue/amqp_url.hpp"
#include "pfo3/queue/failover.hpp"
#include "pfo3/queue/connection_stats.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::queue {

/// One message received. (generation, tag) identify it for ack/nack: a tag from a connection
/// that has since been lost is ignored, since RabbitMQ redelivers those messages anyway.
struct delivery {
    std::uint64_t generation = 0;
    std::uint64_t tag = 0;
    bool redelivered = false;
    /// Quorum queues: x-delivery-count, how many earlier deliveries of this message ended
    /// unsettled (worker died, connection lost, requeued); -1 when the header is absent.
    std::int64_t delivery_count = -1;
    /// The publisher had published this task id before without a confirm (connection lost,
    /// timeout, nack): a copy of it may be in the queue too, so the worker checks the store
    /// before running it (issue 15). Set by pfo3's publisher on such a publish only.
    bool maybe_copy = false;
    std::string body;
    std::string message_id;
    std::string content_type;
    std::string type;
};

struct consumer_options {
    amqp_url url;
    /// More brokers to move to when the connection is lost (failover.urls empty: `url` alone).
    broker_failover failover;
    topology topo;
    std::uint16_t prefetch = 1;
    std::string connection_name = "pfo3-work";
    /// Called on the owner thread after each run of deliveries already received, before it
    /// waits for more, and when the connection is lost: a delivery handler that gathers
    /// deliveries hands them on here.
    std::function<void()> on_burst_end;
    connection_stats* stats = nullptr;  ///< counted when set; must outlive the consumer
};

/// See the file comment. Reconnects with backoff and consumes again when the connection is
/// lost; deliveries in hand at that moment are redelivered by RabbitMQ.
class consumer {
public:
    /// Called on the owner thread for each delivery; must not block (hand it to a worker).
    using delivery_handler = std::function<void(delivery)>;
    /// Called on the owner thread when consuming starts (true) or stops (false): connection
    /// lost, cancel() carried out, or stop(). Calls alternate, starting with true.
    using state_handler = std::function<void(bool consuming)>;

    consumer(consumer_options opts, delivery_handler on_delivery, state_handler on_state = {});
    ~consumer();
    consumer(const consumer&) = delete;
    consumer& operator=(const consumer&) = delete;

    /// Starts the owner thread.
    void start();
    /// Acks one delivery (thread-safe; carried out on the owner thread).
    void ack(std::uint64_t generation, std::uint64_t tag);
    /// Rejects one delivery, back to the queue if `requeue` (thread-safe).
    void nack(std::uint64_t generation, std::uint64_t tag, bool requeue);
    /// Cancels the consumer so no new deliveries arrive; acks/nacks still work (thread-safe).
    void cancel();
    /// Drops the connection and consumes again on a new one, as after a connection loss: for a
    /// consumer that is connected but gets nothing (thread-safe). Deliveries not acked by then
    /// are redelivered by RabbitMQ.
    void reconnect();
    /// Carries out pending acks/nacks, closes the connection and joins the thread. Deliveries
    /// not acked by then are redelivered by RabbitMQ.
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace pfo3::queue
