#pragma once
// What the operations threads connect to, handed in by the role (app/ knows the config's
// store and broker options; this module does not open either on its own terms).
#include <cstddef>
#include <functional>
#include <memory>

#include "pfo3/queue/amqp_url.hpp"
#include "pfo3/store/result_store.hpp"

namespace pfo3::sight {

/// Opens a result store handle for a probe (called on the probe's thread; must own what it uses).
using store_opener = std::function<std::unique_ptr<store::result_store>()>;
/// The broker URL for a connection's `attempt`-th connect (the failover list in turn).
using broker_picker = std::function<queue::amqp_url(std::size_t attempt)>;

}  // namespace pfo3::sight
