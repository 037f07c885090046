#pragma once
// The worker engine: what happens to a delivery between the consumer and its ack.
//
//   consumer thread ──delivery_guard──▶ handler pool (N threads: decode, redelivery check,
//   handler, retry/dead-letter publish) ──record + guard──▶ result committer (1 thread: one
//   store write per group, then ack every guard of the group)
//
// The consumer thread hands deliveries over in batches (collect, flush): a task for a built-in
// that answers at once (echo, sum, multiply) runs right there and its record goes straight to
// the committer, so the common case costs no thread hand-off but the committer's.
//
// Each delivery is settled exactly once by its guard. The engine knows no broker connection:
// acks go through a `settler`, retries and dead letters through a `message_sink`, so it runs
// in unit tests without RabbitMQ; work_command wires it to queue::consumer/publisher.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "pfo3/core/backoff.hpp"
#include "pfo3/handlers/registry.hpp"
#include "pfo3/metrics/work_metrics.hpp"
#include "pfo3/queue/consumer.hpp"
#include "pfo3/queue/publisher.hpp"
#include "pfo3/queue/topology.hpp"
#include "pfo3/store/result_store.hpp"
#include "pfo3/worker/cancel_board.hpp"
#include "pfo3/worker/delivery_guard.hpp"

namespace pfo3::worker {

/// Publishes one message and waits for the broker's answer. Thread-safe.
class message_sink {
public:
    virtual ~message_sink() = default;
    virtual queue::publish_outcome publish(const queue::outgoing_message& msg) = 0;
};

/// [retry] and [work] as the engine applies them.
struct engine_options {
    int concurrency = 1;            ///< handler threads
    std::size_t max_group = 1;      ///< records per store write: the prefetch window
    int max_attempts = 5;           ///< for tasks that do not carry their own
    int max_attempts_limit = 25;    ///< a task may ask for fewer attempts, never more
    backoff_policy retry_backoff;   ///< the waits between attempts (jitter included)
    queue::topology topo;
    std::string worker;             ///< "host:pid", written into records
    metrics::work_metrics* metrics = nullptr;  ///< counted when set; must outlive the engine
    cancel_board* cancels = nullptr;  ///< cancels of queued and running tasks; must outlive the engine
};

/// See the file comment. Thread-safe front.
class engine {
public:
    /// `registry`, `store` and `sink` must outlive the engine.
    engine(engine_options opts, const handlers::registry& registry, store::result_store& store, message_sink& sink);
    /// Stops intake, gives up what is not durable (nacked back), joins the threads.
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    /// Hands a delivery to the handler threads. Once intake is closed the guard is dropped,
    /// which hands the delivery back to the broker.
    void submit(delivery_guard d);
    /// submit() for the one thread that receives deliveries (the consumer's owner thread),
    /// which hands them over in batches: a first delivery of a built-in that answers at once
    /// (handlers::registry::runs_inline) is run here, on the calling thread, and its record
    /// goes to the committer; everything else is for the handler threads. What is collected is
    /// handed over by flush() (one hand-over to each side), or when a batch is full. Only one
    /// thread may call collect() and flush().
    void collect(delivery_guard d);
    /// Hands over what collect() gathered. Once intake is closed, they are handed back as
    /// close_intake() does, even tasks already run: their records were never stored.
    void flush() noexcept;
    /// Stops taking deliveries. Those not started yet, and any submitted later, are published
    /// back to the task queue as unchanged copies (acked once confirmed; nacked back if not),
    /// so that a clean shutdown does not count as an attempt of tasks it never ran.
    void close_intake();
    /// Waits until no handler runs and every record handed over is durable and acked; false
    /// if `timeout` passed first.
    bool finish(std::chrono::milliseconds timeout);
    /// After the grace period: stop waiting for the store and the broker; what is not durable
    /// is nacked back (never acked). Handler threads still running are detached: the process
    /// must exit without unwinding (std::_Exit), their deliveries are redelivered.
    void abandon();

private:
    struct parts;
    std::unique_ptr<parts> parts_;
};

/// A settler over a queue::consumer (acks and nacks carried out on its owner thread).
class consumer_settler final : public settler {
public:
    explicit consumer_settler(queue::consumer& c) noexcept : c_(c) {}
    void ack(std::uint64_t generation, std::uint64_t tag) override { c_.ack(generation, tag); }
    void nack(std::uint64_t generation, std::uint64_t tag, bool requeue) override { c_.nack(generation, tag, requeue); }

private:
    queue::consumer& c_;
};

/// A message_sink over a queue::publisher: blocks the calling thread until the confirm.
class publisher_sink final : public message_sink {
public:
    explicit publisher_sink(queue::publisher& p) noexcept : p_(p) {}
    queue::publish_outcome publish(const queue::outgoing_message& msg) override;

private:
    queue::publisher& p_;
};

}  // namespace pfo3::worker
