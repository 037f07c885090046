#pragma once
// The [amqp] settings as the queue module's options: every broker URL and how to fail over
// between them (decision 0013). Shared by serve, work and its republisher.
#include <cstddef>
#include <optional>
#include <string>

#include "pfo3/config/settings.hpp"
#include "pfo3/queue/failover.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::app {

/// amqp.url/urls parsed, each with [amqp.tls] applied, amqp.failover, connect_timeout_ms,
/// heartbeat_s. Throws config_error (password masked) for a URL that does not parse.
queue::broker_failover broker_failover_of(const config::settings& s);

/// The broker of broker_failover_of() that a short-lived or probing connection tries on its
/// `attempt`-th connect: the list in turn (so a probe that lost its node tries the next), each
/// with [amqp.tls]. `pfo3 dead` takes the first.
queue::amqp_url broker_url_of(const config::settings& s, std::size_t attempt = 0);

/// The `--amqp` and `--queue` flags of serve and work over the settings: the flag's broker
/// replaces the file's whole list (amqp.urls), not only amqp.url.
void apply_broker_flags(config::settings& s, const std::optional<std::string>& amqp,
                        const std::optional<std::string>& queue);

/// amqp.queue, queue_type and the quorum queue arguments (group size, delivery limit, length).
queue::topology topology_of(const config::settings& s);

}  // namespace pfo3::app
