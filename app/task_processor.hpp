#pragma once
// What a worker does with one delivery: decode, run the handler, hand the outcome to the
// group committer, which stores it and only then acks. Called on handler threads;
// thread-safe (the registry, publisher and committer are).
#include <atomic>
#include <functional>
#include <string>

#include "pfo3/handlers/registry.hpp"
#include "pfo3/queue/consumer.hpp"
#include "pfo3/queue/publisher.hpp"
#include "result_committer.hpp"

namespace pfo3::app {

/// Processes deliveries. The ack/nack callbacks reach the consumer's owner thread.
class task_processor {
public:
    struct deps {
        const handlers::registry& registry;
        result_committer& committer;
        queue::publisher& dead_letters;  ///< its own connection: never the consumer's
        std::string dead_queue;
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
    // Publishes `body` to the dead-letter queue and waits for the broker's confirm.
    bool dead_letter(const std::string& body, const std::string& id, const std::string& type);

    deps d_;
};

}  // namespace pfo3::app
