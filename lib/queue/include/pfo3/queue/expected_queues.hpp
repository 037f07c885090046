#pragma once
// What pfo3 declares on the broker for a configuration, as text: each queue's name, what it
// is for, its type and its arguments (`pfo3 admin queues` compares them with the broker's).
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pfo3/queue/topology.hpp"

namespace pfo3::queue {

struct expected_queue {
    std::string name;
    std::string role;  ///< "task", "dead" or "delay" (a level of the delay ladder)
    std::string type;  ///< "classic" or "quorum"
    /// Each argument and its value as text (a string as is, a number in decimal), by key.
    std::vector<std::pair<std::string, std::string>> arguments;
};

/// The queues every role declares at start: the task queue and its dead-letter queue.
std::vector<expected_queue> expected_queues(const topology& topo);

/// The queue called `name` if pfo3 declares one by that name under `topo`: the two above, a
/// level of the delay ladder (`<queue>.delay.<ttl_ms>`, declared on first use). nullopt for any
/// other name (a `<queue>.retry.<ms>` from before the ladder drains and expires by itself).
std::optional<expected_queue> expected_queue_named(const topology& topo, std::string_view name);

}  // namespace pfo3::queue
