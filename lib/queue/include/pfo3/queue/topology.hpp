#pragma once
// The names and shapes of the queues pfo3 uses (SPEC 5), the retry schedule (decision 0005) and
// the delay ladder a retry or a delayed task waits on (decision 0012).
#include <chrono>
#include <cstdint>
#include <string>

#include "pfo3/core/backoff.hpp"

namespace pfo3::queue {

/// The task queue and the queues derived from its name.
struct topology {
    std::string queue = "tareas";        ///< declared durable, no arguments (classic)
    std::string queue_type = "classic";  ///< or "quorum": x-queue-type=quorum
    // Quorum queues only (decision 0013); classic queues are declared without arguments.
    int quorum_group_size = 3;           ///< x-quorum-initial-group-size: replicas
    int delivery_limit = 5;              ///< x-delivery-limit; the worker's crash-loop limit too
    std::int64_t max_length = 1000000;   ///< x-max-length; beyond it publishes are refused
    /// "<queue>.dead": where tasks go after their last attempt or a permanent failure.
    std::string dead_queue() const { return queue + ".dead"; }

    // The delay ladder (decision 0012): level L holds a task 2^L units, then dead-letters it
    // one level down; a task waits only at the levels of its delay's set bits.
    std::chrono::milliseconds delay_unit{1000};  ///< [schedule] unit_ms
    int max_priority = 0;  ///< [amqp] max_priority: the task queue's x-max-priority (0: none)
    /// How long level `level` holds a task: 2^level units.
    std::chrono::milliseconds delay_ttl(int level) const { return delay_unit * (std::int64_t{1} << level); }
    /// "<queue>.delay.<ttl_ms>": the queue of level `level`, and the topic exchange in front of
    /// it (exchanges and queues have separate names). "<queue>.delay.quorum.<ttl_ms>" under
    /// queue_type quorum: a ladder of its own, so that classic levels left by a classic
    /// configuration never refuse the quorum declaration and still drain (decision 0012).
    std::string delay_level(int level) const {
        return queue + (queue_type == "quorum" ? ".delay.quorum." : ".delay.") + std::to_string(delay_ttl(level).count());
    }
    /// "<queue>.delay.due": the fanout exchange below level 0, bound to `queue`.
    std::string delay_due() const { return queue + ".delay.due"; }
};

/// The delay in ladder units: `wait` rounded UP to the unit (a task never starts early), 0
/// for a wait of zero or less.
std::int64_t delay_units(std::chrono::milliseconds wait, std::chrono::milliseconds unit) noexcept;
/// The levels a delay of `units` passes: bit_width(units) (0 for none).
int delay_levels(std::int64_t units) noexcept;
/// The routing key of a delay: one word per level, the highest first, "1" where the task waits
/// and "0" where it passes straight down ("1.0.1" for 5 units). Published to the exchange of
/// level delay_levels(units) - 1.
std::string delay_routing_key(std::int64_t units);
/// Binding keys of level `level`'s exchange: its bit set (to the level's queue) or clear (to
/// the exchange one level down). Anchored at the right, so keys of any length work.
std::string delay_binding(int level, bool waits);

/// The wait after failed attempt `attempt` (>= 1): base * factor^(attempt-1), at most max,
/// with the policy's jitter (`random01` in [0, 1)): always within that * (1 +- jitter). The
/// retry waits it on the delay ladder, rounded up to the ladder's unit.
std::chrono::milliseconds retry_delay(const backoff_policy& p, int attempt, double random01) noexcept;

}  // namespace pfo3::queue
