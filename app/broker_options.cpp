#include "broker_options.hpp"

#include "pfo3/config/amqp_urls.hpp"

namespace pfo3::app {

queue::broker_failover broker_failover_of(const config::settings& s) {
    queue::broker_failover f;
    for (const auto& url : config::broker_urls(s.amqp)) f.urls.push_back(queue::amqp_url::parse(url));
    f.order = queue::parse_failover_order(s.amqp.failover);
    f.connect_timeout = std::chrono::milliseconds(s.amqp.connect_timeout_ms);
    f.heartbeat_s = s.amqp.heartbeat_s;
    return f;
}

}  // namespace pfo3::app
