#pragma once
// Private to the queue module: the arguments pfo3 declares its queues with (SPEC 5, decision
// 0013). Kept as plain values so that they are unit-tested, compared with what a broker refuses
// and printed in errors, and turned into an amqp_table_t only at the declare.
#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "pfo3/queue/topology.hpp"

namespace pfo3::queue::detail {

struct queue_argument {
    std::string key;
    std::variant<std::string, std::int64_t> value;
    bool operator==(const queue_argument&) const = default;
};
using queue_arguments = std::vector<queue_argument>;

/// The task queue. Classic: none at all (the teaching system's declaration). Quorum:
/// x-queue-type, x-quorum-initial-group-size, x-delivery-limit, at-least-once dead-lettering
/// to the dead queue (x-dead-letter-exchange "", -routing-key, -strategy) with
/// x-overflow reject-publish (which at-least-once needs) and x-max-length.
queue_arguments task_queue_arguments(const topology& topo);
/// The dead-letter queue: none (classic); quorum with the group size, x-overflow
/// reject-publish and x-max-length (a full dead queue refuses, it never drops).
queue_arguments dead_queue_arguments(const topology& topo);

/// Level `level` of the delay ladder (decision 0012): holds every message topo.delay_ttl(level)
/// (x-message-ttl), then dead-letters it to the exchange one level down (`due` below level 0)
/// keeping its routing key. Classic under a classic topology; quorum under a quorum one, with the group
/// size, at-least-once dead-lettering and the reject-publish and x-max-length it needs.
queue_arguments delay_queue_arguments(const topology& topo, int level);

/// "x-queue-type=quorum, x-delivery-limit=5": for errors and `pfo3 admin queues`.
std::string describe(const queue_arguments& args);

/// An amqp_table_t over `args` (which must outlive it and not change meanwhile).
class argument_table {
public:
    explicit argument_table(const queue_arguments& args);
    argument_table(const argument_table&) = delete;
    argument_table& operator=(const argument_table&) = delete;
    amqp_table_t get() const noexcept;

private:
    std::vector<amqp_table_entry_t> entries_;
};

}  // namespace pfo3::queue::detail
