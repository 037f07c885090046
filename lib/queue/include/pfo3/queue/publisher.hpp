#pragma once
// Publishes persistent messages with publisher confirms, on one AMQP connection owned by one
// private thread (rabbitmq-c is not thread-safe). Thread-safe front: publish() may be called
// from any thread; completions are invoked on the publisher thread and must only hand the
// outcome on (post it to the caller's executor), never block. Rejections that need no broker
// (`unavailable` while not connected or stopping, `overloaded`) are completed inline, inside
// publish(), on the caller's thread: do not hold a lock the completion needs while calling it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "pfo3/queue/amqp_url.hpp"
#include "pfo3/queue/failover.hpp"
#include "pfo3/queue/connection_stats.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::queue {

/// What became of one publish.
enum class publish_outcome {
    confirmed,    ///< the broker took responsibility (basic.ack): answer ok
    nacked,       ///< basic.nack: NOT accepted
    unroutable,   ///< basic.return (mandatory): NOT accepted
    unavailable,  ///< not connected, connection lost before the confirm, or no confirm in time
    overloaded,   ///< too many unconfirmed messages: NOT accepted
};

/// One message to publish to the default exchange.
struct outgoing_message {
    std::string routing_key;  ///< queue name
    std::string body;         ///< JSON text
    std::string message_id;   ///< the task id
    std::string type;         ///< the task type
    std::int64_t timestamp = 0;  ///< seconds since the epoch
    /// >= 0: per-message TTL in ms (AMQP `expiration`); -1: none.
    std::int64_t expiration_ms = -1;
    /// > 0: a delayed task. It goes to the delay ladder (topo.delay_level, routing key
    /// delay_routing_key) instead of `routing_key` and reaches topo.queue after this many
    /// units of topo.delay_unit; the publisher declares the ladder's levels before their
    /// first use on each connection.
    std::int64_t delay_units = 0;
    /// 1..10: AMQP priority (acts only where the queue has x-max-priority); 0: none.
    int priority = 0;
};

/// Publisher options; defaults are the serve defaults.
struct publisher_options {
    amqp_url url;
    /// More brokers to move to when the connection is lost (failover.urls empty: `url` alone).
    broker_failover failover;
    topology topo;
    std::chrono::milliseconds confirm_timeout{5000};
    std::size_t max_unconfirmed = 10000;
    std::string connection_name = "pfo3";  ///< shown in the RabbitMQ management UI
    connection_stats* stats = nullptr;      ///< counted when set; must outlive the publisher
};

/// See the file comment. Connects in the background and reconnects with backoff; while it is
/// not connected, publish() completes at once with `unavailable`.
class publisher {
public:
    using completion = std::function<void(publish_outcome)>;

    explicit publisher(publisher_options opts);
    /// Stops (see stop()) and joins the thread.
    ~publisher();
    publisher(const publisher&) = delete;
    publisher& operator=(const publisher&) = delete;

    /// Starts the owner thread, which connects and declares the topology.
    void start();
    /// Waits up to `timeout` for the first successful connection; true if connected.
    bool wait_connected(std::chrono::milliseconds timeout);
    /// True while a connection with confirms enabled is up.
    bool connected() const noexcept;
    /// Queues a message; `done` is called exactly once, on the publisher thread (or inline
    /// for an immediate rejection, see the file comment).
    void publish(outgoing_message msg, completion done);
    /// Publishes accepted by publish() whose completion has not run yet (for metrics/tests).
    std::size_t outstanding() const noexcept;
    /// Stops taking messages (they complete `unavailable`), waits up to `grace` for the
    /// confirms of those in flight, completes the rest `unavailable`, closes, joins.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace pfo3::queue
