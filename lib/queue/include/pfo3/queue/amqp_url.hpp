#pragma once
// amqp://user:pass@host:port/vhost URLs (RabbitMQ's URI spec; amqps:// reserved for TLS).
#include <cstdint>
#include <string>
#include <string_view>

namespace pfo3::queue {

/// How an amqps:// connection verifies the broker and logs in ([amqp.tls]).
struct amqp_tls_options {
    std::string ca_file;    ///< empty: the system's CA bundle
    std::string cert_file;  ///< client certificate; empty: none
    std::string key_file;   ///< empty: cert_file
    bool verify_peer = true;
    bool verify_hostname = true;
    bool sasl_external = false;  ///< log in with the certificate (SASL EXTERNAL), not user:password

    /// Field-wise equality.
    bool operator==(const amqp_tls_options&) const = default;
};

/// A parsed broker URL. Defaults: guest/guest, port 5672 (5671 for amqps), vhost "/".
struct amqp_url {
    std::string host = "127.0.0.1";
    std::uint16_t port = 5672;
    std::string user = "guest";
    std::string password = "guest";
    std::string vhost = "/";
    bool tls = false;
    amqp_tls_options tls_options;  ///< used when tls; set by the caller from [amqp.tls]

    /// Parses and percent-decodes; throws config_error naming what is wrong (password masked).
    static amqp_url parse(std::string_view url);
    /// amqp://user:***@host:port/vhost, for logs.
    std::string masked() const;
};

}  // namespace pfo3::queue
