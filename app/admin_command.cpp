#include "admin_command.hpp"

#include <cstdlib>
#include <iostream>

#include "pfo3/queue/configured.hpp"
#include "common.hpp"
#include "pfo3/broker_api/management.hpp"
#include "pfo3/broker_api/queue_report.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"

namespace pfo3::app {

namespace {

// The management API next to a broker URL: RabbitMQ's default ports (15672, 15671 with TLS).
std::string management_url_of(const queue::amqp_url& u) {
    const bool v6 = u.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + u.host + "]" : u.host;
    return (u.tls ? "https://" : "http://") + host + (u.tls ? ":15671" : ":15672");
}

// --management URLs may name a user ("http://monitor@host:15672"), never a password: it
// comes from PFO3_MANAGEMENT_PASSWORD, else the broker URL's (amqp.password_file applied).
broker_api::endpoint endpoint_of(std::string url, const queue::amqp_url& broker) {
    broker_api::endpoint ep{std::move(url), broker.user, broker.password, broker.tls_options.ca_file, {}};
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

CLI::App* setup_admin(CLI::App& root, admin_options& opts) {
    auto* cmd = root.add_subcommand("admin", "operator views of the broker");
    cmd->require_subcommand(1);
    auto* queues = cmd->add_subcommand(
        "queues", "pfo3's queues on the broker (type, arguments, leader, members) against this configuration");
    queues->add_option("--management", opts.management,
                       "management API URL, http://[USER@]HOST:PORT (repeatable; default: each broker's host, "
                       "port 15672, or 15671 for amqps)");
    queues->add_option("--amqp", opts.amqp, "broker URL (amqp.url): its user, password and vhost are used");
    queues->add_option("--queue", opts.queue, "task queue name (amqp.queue)");
    queues->fallthrough();
    return cmd;
}

int run_admin(config::settings s, const admin_options& opts) {
    if (!opts.amqp.empty()) {
        s.amqp.url = opts.amqp;
        s.amqp.urls.clear();
    }
    if (!opts.queue.empty()) s.amqp.queue = opts.queue;
    config::validate(s);
    config::apply_password_files(s);
    const auto brokers = queue::broker_failover_of(s).urls;
    std::vector<broker_api::endpoint> endpoints;
    if (opts.management.empty())
        for (const auto& b : brokers) endpoints.push_back(endpoint_of(management_url_of(b), b));
    else
        for (const auto& m : opts.management) endpoints.push_back(endpoint_of(m, brokers.front()));

    const auto topo = queue::topology_of(s);
    // Any node answers for the whole cluster: the first that does is enough.
    std::string failures;
    for (const auto& ep : endpoints) {
        try {
            const auto actual = broker_api::list_queues(ep, brokers.front().vhost, topo.queue);
            const auto rows = broker_api::compare(topo, actual);
            std::cout << "queues of '" << topo.queue << "' (" << topo.queue_type << ") as " << ep.url << " reports:\n"
                      << broker_api::render(rows);
            for (const auto& r : rows)
                if (!r.differences.empty()) return exit_rejected;
            return exit_ok;
        } catch (const service_error& e) {
            failures += std::string("\n  ") + e.what();
            if (!e.retryable()) break;
        }
    }
    std::cerr << "pfo3: no management API answered:" << failures << "\n";
    return exit_unreachable;
}

}  // namespace pfo3::app
