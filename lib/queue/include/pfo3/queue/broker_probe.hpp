#pragma once
// The broker's own ceiling on this machine, for `pfo3 bench --broker-ceiling`: the messages
// pfo3 would publish, sent straight to RabbitMQ with rabbitmq-c (persistent, publisher
// confirms, a window of unconfirmed publishes) and consumed back (prefetch, manual acks),
// with no pfo3 code in between. Runs on the caller's thread (plus one helper thread for the
// concurrent phase); not for use while other threads use the same object.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pfo3/queue/amqp_url.hpp"

namespace pfo3::queue {

/// What to measure and how hard to push; defaults match `pfo3 bench`.
struct broker_probe_options {
    amqp_url url;
    std::size_t messages = 10000;  ///< per phase
    std::size_t window = 1024;     ///< unconfirmed publishes in flight
    std::uint16_t prefetch = 256;  ///< unacked deliveries the consumer may hold
    std::string body;              ///< the message body (a pfo3 task body of the bench's size)
    std::string type = "echo";     ///< the `type` property, as pfo3 sets it
    std::chrono::milliseconds phase_timeout{120000};  ///< bound on each phase
    /// Open loop instead: only the publish+consume phase runs, publishing at this many
    /// messages/s (message i due at i/rate), and every message's latency is recorded.
    std::optional<double> rate;
};

/// Seconds each phase took for `messages` messages; rates are messages / seconds.
struct broker_probe_result {
    std::size_t messages = 0;
    double publish_seconds = 0;   ///< publish with confirms into an empty queue, until the last confirm
    double consume_seconds = 0;   ///< consume (and ack) what the publish phase left
    double pipeline_seconds = 0;  ///< publisher and consumer at once: first publish to last delivery
    std::size_t nacked = 0;       ///< basic.nack received (the broker refused a message)
    std::size_t returned = 0;     ///< basic.return received (unroutable)
    std::string queue;            ///< the temporary queue used (deleted at the end)
    bool open_loop = false;       ///< measured at `rate`: only pipeline_seconds is set
    /// Open loop only, in nanoseconds from each message's due time: until its confirm
    /// arrived, and until its delivery reached the consumer.
    std::vector<std::int64_t> confirm_ns, deliver_ns;
};

/// Declares a temporary durable queue (with x-expires, so it disappears even if this process
/// dies), runs the three phases in order (or the open-loop one), deletes the queue. Throws service_error naming the
/// phase and the broker when a phase fails or exceeds its timeout.
broker_probe_result measure_broker_ceiling(const broker_probe_options& opts);

}  // namespace pfo3::queue
