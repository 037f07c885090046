#pragma once
// Private to the queue module: declares the delay ladder (decision 0012) on a connection.
#include "amqp_connection.hpp"

namespace pfo3::queue::detail {

/// Declares levels [from, to) of topo's ladder, and the `due` exchange (bound to topo.queue)
/// when `from` is 0. Per level L: a durable topic exchange and a durable queue (classic, or
/// quorum under a quorum topology: delay_queue_arguments), both named topo.delay_level(L); the
/// queue holds messages topo.delay_ttl(L) (x-message-ttl) and dead-letters them to the
/// exchange one level down (or `due`), keeping their routing key; the exchange routes keys whose word for L is "1" to the queue and the
/// rest to the exchange one level down. Idempotent; throws service_error.
void declare_delay_levels(connection& c, const topology& topo, int from, int to);

}  // namespace pfo3::queue::detail
