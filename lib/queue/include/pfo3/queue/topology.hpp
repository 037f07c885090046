#pragma once
// The names and shapes of the queues pfo3 uses (SPEC 5).
#include <string>

namespace pfo3::queue {

/// The task queue and the queues derived from its name.
struct topology {
    std::string queue = "tareas";        ///< declared durable, no arguments (classic)
    std::string queue_type = "classic";  ///< or "quorum": x-queue-type=quorum
    /// "<queue>.dead": where tasks go after their last attempt or a permanent failure.
    std::string dead_queue() const { return queue + ".dead"; }
};

}  // namespace pfo3::queue
