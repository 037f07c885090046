#pragma once
// The [amqp] settings as this module's options: every broker URL and how to fail over between
// them (decision 0013), and the queues a configuration declares. One reading for every role
// (serve, work, its republisher, `pfo3 dead --direct`, `pfo3 admin`).
#include <cstddef>

#include "pfo3/config/settings.hpp"
#include "pfo3/queue/failover.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::queue {

/// amqp.url/urls parsed, each with [amqp.tls] applied, amqp.failover, connect_timeout_ms,
/// heartbeat_s. Throws config_error (password masked) for a URL that does not parse.
broker_failover broker_failover_of(const config::settings& s);

/// The broker of broker_failover_of() that a short-lived or probing connection tries on its
/// `attempt`-th connect: the list in turn (so a probe that lost its node tries the next), each
/// with [amqp.tls]. `pfo3 dead` takes the first.
amqp_url broker_url_of(const config::settings& s, std::size_t attempt = 0);

/// amqp.queue, queue_type and the quorum queue arguments (group size, delivery limit, length).
topology topology_of(const config::settings& s);

}  // namespace pfo3::queue
