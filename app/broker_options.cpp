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

queue::topology topology_of(const config::settings& s) {
    queue::topology t;
    t.queue = s.amqp.queue;
    t.queue_type = s.amqp.queue_type;
    t.quorum_group_size = s.amqp.quorum_group_size;
    t.delivery_limit = s.amqp.delivery_limit;
    t.max_length = s.amqp.max_length;
    t.delay_unit = std::chrono::milliseconds(s.schedule.unit_ms);
    t.max_priority = s.amqp.max_priority;
    return t;
}

}  // namespace pfo3::app
