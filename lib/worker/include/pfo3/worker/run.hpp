#pragma once
// The work role assembled from its settings: the result store, the consumer, the engine with
// its handler threads, the republisher of retries and dead letters, the cancel listener, and
// the operations endpoints (lib/sight). app/work_command.cpp parses the flags and calls run().
#include "pfo3/config/settings.hpp"

namespace pfo3::worker {

/// Runs a worker with validated settings (password files applied) until SIGTERM/SIGINT, then
/// finishes the tasks in hand within work.shutdown_grace_s. If some are still running then,
/// they are left unacked (RabbitMQ redelivers them) and the process ends at once with
/// std::_Exit(abandoned_exit): handler threads may still hold references into run's frame.
/// Throws config_error for a store no retry can make usable or queues declared otherwise.
void run(const config::settings& s, int abandoned_exit);

}  // namespace pfo3::worker
