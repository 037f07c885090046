#include "pfo3/broker_api/endpoints.hpp"

#include <cstdlib>

#include "pfo3/core/error.hpp"

namespace pfo3::broker_api {

namespace {

// The management API next to a broker URL: RabbitMQ's default ports (15672, 15671 with TLS).
std::string management_url_of(const queue::amqp_url& u) {
    const bool v6 = u.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + u.host + "]" : u.host;
    return (u.tls ? "https://" : "http://") + host + (u.tls ? ":15671" : ":15672");
}

endpoint endpoint_of(std::string url, const queue::amqp_url& broker) {
    endpoint ep{std::move(url), broker.user, broker.password, broker.tls_options.ca_file, {}};
    const auto scheme_end = ep.url.find("://");
    if (scheme_end == std::string::npos) throw config_error("--management " + ep.url + ": expected http://HOST:PORT");
    const auto at = ep.url.find('@', scheme_end + 3);
    const auto slash = ep.url.find('/', scheme_end + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
        std::string user = ep.url.substr(scheme_end + 3, at - scheme_end - 3);
        if (user.find(':') != std::string::npos)
            throw config_error("--management: put no password in the URL (it would show in ps); "
                               "set PFO3_MANAGEMENT_PASSWORD instead");
        ep.user = std::move(user);
        ep.url.erase(scheme_end + 3, at - scheme_end - 2);
    }
    if (const char* pw = std::getenv("PFO3_MANAGEMENT_PASSWORD")) ep.password = pw;
    return ep;
}

}  // namespace

std::vector<endpoint> endpoints_of(const std::vector<std::string>& management,
                                   const std::vector<queue::amqp_url>& brokers) {
    std::vector<endpoint> out;
    if (management.empty())
        for (const auto& b : brokers) out.push_back(endpoint_of(management_url_of(b), b));
    else
        for (const auto& m : management) out.push_back(endpoint_of(m, brokers.front()));
    return out;
}

}  // namespace pfo3::broker_api
