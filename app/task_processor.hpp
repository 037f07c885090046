#pragma once
// What a worker does with one delivery: decode, run the handler, hand the outcome to the
// group committer, which stores it and only then acks. A failed attempt is published to a
// retry queue (or, after the last one, to the dead-letter queue) with a confirm before its
// record is committed; a redelivered task counts as an attempt (decision 0005). Called on
// handler threads; thread-safe (the registry, publisher and committer are).
#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "pfo3/core/backoff.hpp"
#include "pfo3/handlers/registry.hpp"
#include "pfo3/queue/consumer.hpp"
#include "pfo3/queue/publisher.hpp"
#include "pfo3/queue/topology.hpp"
#include "result_committer.hpp"

namespace pfo3::app {

/// [retry] as a worker applies it.
struct retry_policy {
    int max_attempts = 5;   ///< for tasks that do not carry their own max_attempts
    backoff_policy backoff;  ///< the waits between attempts (jitter included)
};

/// Processes deliveries. The ack/nack callbacks reach the consumer's owner thread.
class task_processor {
public:
    struct deps {
        const handlers::registry& registry;
        result_committer& committer;
        queue::publisher& republisher;  ///< retries, dead letters, redeliveries; never the consumer's connection
        queue::topology topo;
        retry_policy retry;
        std::string worker;
        std::function<void(const queue::delivery&)> ack;  ///< only for what has nothing to store
        std::function<void(const queue::delivery&)> nack_requeue;
        const std::atomic<bool>& give_up;  ///< set when the grace period is over: stop retrying
    };

    explicit task_processor(deps d) : d_(std::move(d)) {}

    /// Runs one delivery to its end: its record goes to the committer (acked once durable),
    /// or it is nacked back to the queue if it cannot get that far. Never throws.
    void process(const queue::delivery& dv);

private:
    // A redelivery: the worker that held it died or lost its connection. Counted as an attempt
    // and republished (or dead-lettered after the last), never run from here.
    void redelivered(const queue::delivery& dv, const task& t, int max_attempts, std::string started);
    // Publishes `msg` and waits for the broker's confirm, trying again with backoff until
    // confirmed or give_up; true once confirmed.
    bool publish_confirmed(const queue::outgoing_message& msg, const char* what);
    // Publishes `body` to the dead-letter queue and waits for the broker's confirm.
    bool dead_letter(const std::string& body, const std::string& id, const std::string& type);

    deps d_;
};

}  // namespace pfo3::app
