#pragma once
// The start-up check of serve and work: are the queues on the broker the ones this
// configuration declares? (decision 0013)
#include "pfo3/queue/failover.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::queue {

/// Declares the task queue and its dead-letter queue once, on the first URL of `broker` that
/// accepts a connection (short-lived, no retries). A queue that exists with other arguments
/// (another type, delivery limit, length...) throws config_error naming the queue, the
/// argument the broker reports as different, the arguments pfo3 declares and what to do.
/// Returns false if no URL could be reached or the broker refused us for another reason: the
/// roles start anyway, and their sessions keep trying and logging.
bool check_topology(const broker_failover& broker, const topology& topo);

}  // namespace pfo3::queue
