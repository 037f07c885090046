#pragma once
// What a worker does with one delivery: decode, run the handler, store the outcome, and only
// then ack. Called on handler threads; thread-safe (the store, registry and publisher are).
#include <atomic>
#include <functional>
#include <string>

#include "pfo3/handlers/registry.hpp"
#include "pfo3/queue/consumer.hpp"
#include "pfo3/queue/publisher.hpp"
#include "pfo3/store/result_store.hpp"

namespace pfo3::app {

/// Processes deliveries. The ack/nack callbacks reach the consumer's owner thread.
class task_processor {
public:
    struct deps {
        const handlers::registry& registry;
        store::result_store& store;
        queue::publisher& dead_letters;  ///< its own connection: never the consumer's
        std::string dead_queue;
        std::string worker;
        std::function<void(const queue::delivery&)> ack;
        std::function<void(const queue::delivery&)> nack_requeue;
        const std::atomic<bool>& give_up;  ///< set when the grace period is over: stop retrying
    };

    explicit task_processor(deps d) : d_(std::move(d)) {}

    /// Runs one delivery to its end: acked after its record is durable, or nacked back to the
    /// queue if the worker is stopping before that point. Never throws.
    void process(const queue::delivery& dv);

private:
    // Writes the record, retrying with backoff while the store is down; false if the worker
    // began stopping first (the delivery is then left to redelivery).
    bool store_durably(const task_record& r);
    // Publishes `body` to the dead-letter queue and waits for the broker's confirm.
    bool dead_letter(const std::string& body, const std::string& id, const std::string& type);

    deps d_;
    std::atomic<bool> store_down_{false};
};

}  // namespace pfo3::app
