#pragma once
// Private to the config module: the rules that tie settings to the broker's own limits
// (decision 0013), checked by validate() once flags were applied.
#include "rules.hpp"

namespace pfo3::config::detail {

/// Each handler's timeout_s plus work.shutdown_grace_s must stay below amqp.consumer_timeout_s:
/// RabbitMQ closes the channel of a consumer that holds a delivery longer, and the task would
/// be redelivered under a handler still running it. Names the first handler that does not.
problem check_consumer_timeout(const settings& s, std::string& key);

}  // namespace pfo3::config::detail
