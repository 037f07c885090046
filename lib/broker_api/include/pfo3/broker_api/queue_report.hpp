#pragma once
// `pfo3 admin queues`: each queue pfo3 declares (or would declare) beside the broker's own
// view of it, the differences named, as a table for people.
#include <optional>
#include <string>
#include <vector>

#include "pfo3/broker_api/management.hpp"
#include "pfo3/queue/expected_queues.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::broker_api {

struct queue_row {
    std::string name;
    std::optional<queue::expected_queue> expected;  ///< nullopt: a queue pfo3 does not declare
    std::optional<broker_queue> actual;             ///< nullopt: missing on the broker
    /// "x-delivery-limit: expected 5, actual 3", "type: expected quorum, actual classic",
    /// "missing: serve and work declare it at start", ...; empty when all is as expected.
    std::vector<std::string> differences;
};

/// The task and dead-letter queues first (present or not), then every other queue named
/// after the task queue the broker has, by name.
std::vector<queue_row> compare(const queue::topology& topo, const std::vector<broker_queue>& actual);

/// The rows as an aligned table, then the differences of each row under it. Node names
/// are printed whole; a quorum queue's members as "online/members: node, node, ...".
std::string render(const std::vector<queue_row>& rows);

}  // namespace pfo3::broker_api
