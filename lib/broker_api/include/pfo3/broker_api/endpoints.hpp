#pragma once
// Which management APIs `pfo3 admin queues` asks, and as whom.
#include <string>
#include <vector>

#include "pfo3/broker_api/management.hpp"
#include "pfo3/queue/amqp_url.hpp"

namespace pfo3::broker_api {

/// One endpoint per `management` URL, or, with none given, the API next to each broker
/// (RabbitMQ's default ports: 15672, 15671 for amqps). A --management URL may name a user
/// ("http://monitor@host:15672"), never a password (config_error: it would show in ps): the
/// password comes from $PFO3_MANAGEMENT_PASSWORD, else the (first) broker URL's; so do the
/// user and the CA file when the URL names none. `brokers` must not be empty.
std::vector<endpoint> endpoints_of(const std::vector<std::string>& management,
                                   const std::vector<queue::amqp_url>& brokers);

}  // namespace pfo3::broker_api
