#include "admin_command.hpp"

#include <iostream>

#include "common.hpp"
#include "pfo3/broker_api/endpoints.hpp"
#include "pfo3/broker_api/queue_report.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/queue/configured.hpp"

namespace pfo3::app {

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
    const auto endpoints = broker_api::endpoints_of(opts.management, brokers);
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
