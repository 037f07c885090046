#pragma once
// What a worker does with one delivery: decode, (for a redelivery or a possible copy) ask the
// store whether the attempt already ended, run the handler, hand the outcome to the group committer, which
// stores it and only then acks. A failed attempt is published to a retry queue (or, after the
// last one, to the dead-letter queue) with a confirm before its record is committed, so a
// stored `failed` of attempt N means attempt N+1 is queued (decision 0005). Called on handler
// threads; thread-safe (the registry, store, sink and committer are).
#include <atomic>
#include <optional>
#include <string>

#include "pfo3/handlers/registry.hpp"
#include "pfo3/store/result_store.hpp"
#include "pfo3/worker/cancel_board.hpp"
#include "pfo3/worker/delivery_guard.hpp"
#include "pfo3/worker/engine.hpp"
#include "result_committer.hpp"

namespace pfo3::worker {

/// See the file comment.
class task_processor {
public:
    struct deps {
        const handlers::registry& registry;
        store::result_store& store;      ///< read for redeliveries only
        result_committer* committer;     ///< set before the first delivery
        message_sink& sink;              ///< retries, dead letters, redeliveries
        const engine_options& opts;
        const std::atomic<bool>& give_up;  ///< set when the grace period is over: stop retrying
        cancel_board* cancels;             ///< cancels heard (null: none are)
    };

    explicit task_processor(deps d) : d_(std::move(d)) {}

    /// Runs one delivery to its end: its record goes to the committer (acked once durable),
    /// or the guard is dropped (nacked back) if it cannot get that far. Never throws.
    void process(delivery_guard g);
    /// The record of a delivery whose task is a built-in that answers at once (echo, sum,
    /// multiply: registry::runs_inline), not redelivered, small, and `done`: run here, on the
    /// calling thread. nullopt for everything else (an external handler, a redelivery, a
    /// failed or refused outcome, an undecodable body): process() takes those on a handler
    /// thread, running a built-in again there (built-ins are pure), so retries, dead letters
    /// and their confirms never block the caller. Never throws for task-level problems.
    std::optional<task_record> run_inline(const queue::delivery& d) const;
    /// The committer's record_rejected path: dead-letters the task with the store's reason and
    /// stores what the store can take of a `dead` record. Never throws.
    void store_refused(task_record r, delivery_guard g, const std::string& why);
    /// A delivery never started when intake closed (a clean shutdown): publishes an unchanged
    /// copy to the task queue and acks the original once the copy is confirmed, so the next
    /// worker does not take it for an interrupted attempt (a nack with requeue would mark it
    /// redelivered, and count it in a quorum queue's x-delivery-count). Not confirmed: the
    /// guard nacks it back as before. Never throws.
    void hand_back(delivery_guard g) noexcept;

private:
    void run(delivery_guard g, const task& t, std::string started);
    // A task that arrives a unit or more before its run_at goes back on the delay ladder for
    // the rest (confirmed, then acked) and true is returned; false: run it now.
    bool early(delivery_guard& g, const task& t);
    // True if `rec` is a pending cancel of this run of `t` (issue 16).
    static bool cancelled(const std::optional<task_record>& rec, const task& t);
    // True if `rec` shows that this attempt of `t` already ended (or was replaced by a requeue):
    // the delivery is a copy, acked without a run.
    static bool ended(const std::optional<task_record>& rec, const task& t);
    // Stores `rec` as `cancelled` (reason kept) and acks; the task does not run.
    void settle_cancel(delivery_guard g, const task& t, task_record rec);
    // A redelivery: the worker that held it died, lost its connection, or lost only its ack.
    void redelivered(delivery_guard g, const task& t, int max_attempts, std::string started);
    // A redelivery from a quorum queue, which counts its unsettled deliveries
    // (x-delivery-count): a task that killed delivery_limit - 1 workers is dead, not run
    // again; otherwise it runs here, each earlier delivery counted as an attempt
    // (crash_loop.cpp).
    void redelivered_counted(delivery_guard g, const task& t, int max_attempts, std::string started);
    task_record dead_record(const task& t, std::string error, std::string started) const;
    // dead_letter() of the task's body with `error` added.
    bool dead_letter_task(const task& t, const std::string& error);
    // The stored record of `id`, reading again with backoff while the store is down; nullopt
    // also when give_up was set before an answer (the caller then hands the delivery back).
    std::optional<std::optional<task_record>> stored_record(const std::string& id);
    int max_attempts_of(const task& t) const;
    // Publishes `msg` and waits for the broker's confirm, trying again with backoff until
    // confirmed or give_up; true once confirmed.
    bool publish_confirmed(const queue::outgoing_message& msg, const char* what);
    // Publishes `body` to the dead-letter queue and waits for the broker's confirm.
    bool dead_letter(const std::string& body, const std::string& id, const std::string& type);

    deps d_;
};

}  // namespace pfo3::worker
