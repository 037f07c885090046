#pragma once
// serve's readiness checks and broker metrics on its sight (see sight.hpp): listening, the
// publisher connected with confirms, and no publish left unconfirmed past its timeout lately.
#include <chrono>

#include "pfo3/net/server.hpp"
#include "pfo3/queue/connection_stats.hpp"
#include "pfo3/queue/publisher.hpp"
#include "pfo3/sight/role_sight.hpp"

namespace pfo3::sight {

/// Registers serve's checks and gauges. Everything passed must outlive `s`.
void watch_serve(role_sight& s, const net::server& server, const queue::publisher& pub,
                 const queue::connection_stats& stats, std::chrono::milliseconds confirm_timeout);

}  // namespace pfo3::sight
