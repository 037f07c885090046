#pragma once
// amqp://user:pass@host:port/vhost URLs (RabbitMQ's URI spec; amqps:// reserved for TLS).
#include <cstdint>
#include <string>
#include <string_view>

namespace pfo3::queue {

/// A parsed broker URL. Defaults: guest/guest, port 5672 (5671 for amqps), vhost "/".
struct amqp_url {
    std::string host = "127.0.0.1";
    std::uint16_t port = 5672;
    std::string user = "guest";
    std::string password = "guest";
    std::string vhost = "/";
    bool tls = false;

    /// Parses and percent-decodes; throws config_error naming what is wrong (password masked).
    static amqp_url parse(std::string_view url);
    /// amqp://user:***@host:port/vhost, for logs.
    std::string masked() const;
};

}  // namespace pfo3::queue
