#pragma once
// Several broker URLs (the nodes of a RabbitMQ cluster) and how a long-lived connection moves
// between them when it loses one: the order it tries them in, how long a connect may take, the
// heartbeat, and the backoff once every URL failed (decision 0013).
#include <chrono>
#include <string_view>
#include <vector>

#include "pfo3/queue/amqp_url.hpp"

namespace pfo3::queue {

/// The order in which a connection tries the URLs.
enum class failover_order {
    round_robin,  ///< from the first URL; after a loss, the one after the URL just lost
    shuffle,      ///< a random order per process (spreads clients over the nodes), reshuffled each round
    in_order,     ///< always from the first URL: a preferred node with standbys
};

/// "round-robin" / "shuffle" / "in-order"; throws config_error naming the choices otherwise.
failover_order parse_failover_order(std::string_view text);

/// What publisher_options and consumer_options add to their `url`.
struct broker_failover {
    /// Every broker, in the configured order; empty: the options' `url` alone.
    std::vector<amqp_url> urls;
    failover_order order = failover_order::round_robin;
    std::chrono::milliseconds connect_timeout{5000};  ///< TCP (and TLS) connect to one URL
    int heartbeat_s = 30;  ///< asked of the broker (which may lower it); 0: none
};

}  // namespace pfo3::queue
