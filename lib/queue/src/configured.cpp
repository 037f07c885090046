#include "pfo3/queue/configured.hpp"

#include "pfo3/config/amqp_urls.hpp"

namespace pfo3::queue {

namespace {

// One broker URL with [amqp.tls] applied (used only when it is amqps://).
amqp_url with_tls(amqp_url url, const config::amqp_tls_settings& t) {
    url.tls_options.ca_file = t.ca_file;
    url.tls_options.cert_file = t.cert_file;
    url.tls_options.key_file = t.key_file;
    url.tls_options.verify_peer = t.verify_peer;
    url.tls_options.verify_hostname = t.verify_hostname;
    url.tls_options.sasl_external = t.sasl == "external";
    return url;
}

}  // namespace

broker_failover broker_failover_of(const config::settings& s) {
    broker_failover f;
    for (const auto& url : config::broker_urls(s.amqp)) f.urls.push_back(with_tls(amqp_url::parse(url), s.amqp.tls));
    f.order = parse_failover_order(s.amqp.failover);
    f.connect_timeout = std::chrono::milliseconds(s.amqp.connect_timeout_ms);
    f.heartbeat_s = s.amqp.heartbeat_s;
    return f;
}

amqp_url broker_url_of(const config::settings& s, std::size_t attempt) {
    const auto urls = broker_failover_of(s).urls;
    return urls[attempt % urls.size()];
}

topology topology_of(const config::settings& s) {
    topology t;
    t.queue = s.amqp.queue;
    t.queue_type = s.amqp.queue_type;
    t.quorum_group_size = s.amqp.quorum_group_size;
    t.delivery_limit = s.amqp.delivery_limit;
    t.max_length = s.amqp.max_length;
    t.delay_unit = std::chrono::milliseconds(s.schedule.unit_ms);
    t.max_priority = s.amqp.max_priority;
    return t;
}

}  // namespace pfo3::queue
