#include "broker_options.hpp"
#include "serve_command.hpp"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "client_auth.hpp"
#include "sight_flags.hpp"
#include "common.hpp"
#include "store_access.hpp"
#include "pfo3/queue/topology_check.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/metrics/serve_metrics.hpp"
#include "pfo3/net/server.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/ops/notify.hpp"
#include "pfo3/ops/process_limits.hpp"
#include "pfo3/serve/dead_letter_desk.hpp"
#include "pfo3/serve/graceful_stop.hpp"
#include "pfo3/serve/accepted_ids.hpp"
#include "pfo3/serve/cancel_broadcaster.hpp"
#include "pfo3/serve/request_dispatcher.hpp"
#include "pfo3/serve/status_reader.hpp"
#include "pfo3/sight/dead_letter_cache.hpp"
#include "pfo3/sight/http_gate.hpp"
#include "pfo3/sight/queue_watch.hpp"
#include "pfo3/sight/role_sight.hpp"
#include "pfo3/sight/serve_page.hpp"
#include "pfo3/sight/serve_sight.hpp"
#include "pfo3/sight/throughput.hpp"
#include "pfo3/sight/worker_roster.hpp"
#include "pfo3/queue/publisher.hpp"

namespace pfo3::app {

namespace {

namespace asio = boost::asio;

// Enough to overlap a few store round trips; each thread holds one store connection.
constexpr std::size_t status_threads = 4;
// Beyond this many status reads waiting for the store, answer `overloaded` at once.
constexpr std::size_t max_waiting_status = 4096;
// Status reads one connection may await at once. A status reply is as large as the stored
// result, so this bounds what replies arriving after a connection stopped being read can add
// to its memory; 16 keeps a pipelining client at about the speed of an unbounded one (20000
// file-store reads: 0.16 s, against 0.13 s unbounded and 0.37 s with 4).
constexpr std::size_t max_status_per_connection = 16;

// Dead-letter requests wait at most this many deep in serve (decision 0016).
constexpr std::size_t max_waiting_dead = 64;

// The dead-letter desk's broker connections: the `attempt`-th URL of the list, so a desk that
// lost its node tries the next. Owns a copy of the settings (the desk's thread may outlive us).
serve::dead_letter_desk::opener dead_letters_opener(const config::settings& s) {
    return [s](std::size_t attempt) {
        return std::make_unique<queue::dead_letters>(broker_url_of(s, attempt), topology_of(s),
                                                     std::chrono::milliseconds(s.serve.confirm_timeout_ms),
                                                     "pfo3-serve dead letters " + ops::process_identity());
    };
}

// The command line's overrides of the config file.
void apply_options(config::settings& s, const serve_options& opts) {
    if (opts.listen) s.serve.listen = *opts.listen;
    apply_broker_flags(s, opts.amqp, opts.queue);
    if (opts.http_listen) s.http.listen = *opts.http_listen;
    if (opts.metrics) s.http.metrics = *opts.metrics;
}

queue::publisher_options publisher_options_of(const config::settings& s) {
    queue::publisher_options popts;
    popts.failover = broker_failover_of(s);
    popts.url = popts.failover.urls.front();
    popts.topo = topology_of(s);
    popts.confirm_timeout = std::chrono::milliseconds(s.serve.confirm_timeout_ms);
    popts.max_unconfirmed = s.serve.max_unconfirmed;
    popts.connection_name = "pfo3-serve " + ops::process_identity();
    return popts;
}

net::server_options server_options_of(const config::settings& s) {
    net::server_options sopts;
    sopts.listen = s.serve.listen;
    sopts.auth = serve_policy_of(s);
    sopts.tls = serve_tls_of(s);
    sopts.max_request_bytes = s.serve.max_request_bytes;
    sopts.max_connections = s.serve.max_connections;
    sopts.idle_timeout = std::chrono::seconds(s.serve.idle_timeout_s);
    sopts.max_pipelined = s.serve.max_pipelined;
    sopts.max_connections_per_address = s.serve.max_connections_per_address;
    sopts.max_unsent_reply_bytes = s.serve.max_unsent_reply_bytes;
    sopts.max_status_in_flight = max_status_per_connection;
    sopts.request_timeout = std::chrono::seconds(s.serve.request_timeout_s);
    sopts.write_timeout = std::chrono::seconds(s.serve.write_timeout_s);
    sopts.request.max_attempts = s.retry.max_attempts_limit;
    sopts.request.max_delay_s = s.schedule.max_delay_s;
    sopts.request.max_priority = s.amqp.max_priority;
    return sopts;
}

// What the metrics hear from the client port: refusals before dispatch, submits answered.
net::observers observers_of(metrics::serve_metrics& counts) {
    net::observers o;
    o.refused = [&counts](request_error code) { counts.refused(code); };
    o.submit_answered = [&counts](std::chrono::steady_clock::duration d) {
        counts.accept_latency.observe(std::chrono::duration<double>(d).count());
    };
    return o;
}

// The status page's own parts (issue 14); shared_ptrs because the roster's listener thread,
// which feeds `minutes`, may outlive this function when the broker hangs.
struct page_parts {
    std::shared_ptr<sight::throughput> minutes;
    std::shared_ptr<sight::queue_watch> queues;
    std::shared_ptr<sight::dead_letter_cache> dead_letters;
};

// The page's dead-letter buttons and list go through serve's dead-letter desk, the same path
// as `pfo3 dead` and the dead_* ops (decision 0016).
sight::dead_letter_ops page_dead_letter_ops(serve::dead_letter_desk& desk,
                                            const std::shared_ptr<sight::dead_letter_cache>& cache) {
    sight::dead_letter_ops ops;
    ops.run = [&desk](std::string action, std::vector<std::string> ids, sight::dead_letter_ops::answer done) {
        json::request req;
        req.kind = action == "purge" ? json::op::dead_purge : json::op::dead_requeue;
        req.all = ids.empty();
        req.ids = std::move(ids);
        if (req.kind == json::op::dead_requeue) req.limit = json::max_dead_limit;
        desk.handle(std::move(req), [done = std::move(done)](std::string line) {
            const bool ok = line.starts_with("{\"ok\":true");
            done(ok, std::move(line));
        });
    };
    ops.latest = [cache] { return cache->json(); };
    return ops;
}

page_parts status_page(const config::settings& s, sight::role_sight& view, const sight::http_gate& gate,
                       metrics::serve_metrics* counts, const queue::connection_stats& broker,
                       sight::worker_roster& roster, serve::status_reader& status,
                       const queue::publisher_options& popts, serve::dead_letter_desk& desk) {
    const auto topo = topology_of(s);
    page_parts parts{std::make_shared<sight::throughput>(),
                     std::make_shared<sight::queue_watch>(
                         std::vector<std::string>{topo.queue, topo.dead_queue()},
                         std::chrono::seconds(s.http.queue_check_s),
                         [s](std::size_t attempt) { return broker_url_of(s, attempt); }),
                     std::make_shared<sight::dead_letter_cache>(
                         [&desk](std::function<void(std::string)> done) {
                             json::request req;
                             req.kind = json::op::dead_list;
                             req.limit = 20;
                             desk.handle(std::move(req), std::move(done));
                         },
                         std::chrono::seconds(s.http.queue_check_s))};
    using series = sight::throughput::series;
    roster.on_counts([m = parts.minutes](std::uint64_t done, std::uint64_t retried, std::uint64_t dead) {
        m->add(series::done, done);
        m->add(series::retried, retried);
        m->add(series::dead, dead);
    });
    view.on_tick([m = parts.minutes, counts, last = counts ? counts->accepted_total() : 0,
                  cache = parts.dead_letters]() mutable {
        if (counts) {  // null: [http] metrics = false, the page's accepted line stays empty
            const auto now = counts->accepted_total();
            m->add(series::accepted, now - last);
            last = now;
        }
        cache->tick();
    });
    view.guard_metrics([gate](const http::request& r) { return gate.refuse(r, auth::scope::metrics); });
    sight::page_options o;
    o.actions = s.web.actions;
    o.store = s.store.uri.substr(0, s.store.uri.find(':'));  // the kind, never credentials
    for (const auto& u : popts.failover.urls) o.broker_nodes.push_back(u.host + ":" + std::to_string(u.port));
    if (o.broker_nodes.empty()) o.broker_nodes.push_back(popts.url.host + ":" + std::to_string(popts.url.port));
    o.dead_queue = 1;
    sight::add_status_page(view, gate, std::move(o),
                           sight::page_sources{counts, broker, roster, *parts.queues, *parts.minutes,
                                               [&status](std::string id, std::function<void(std::string)> done) {
                                                   status.read(std::move(id), std::move(done));
                                               },
                                               page_dead_letter_ops(desk, parts.dead_letters)});
    return parts;
}

}  // namespace

CLI::App* setup_serve(CLI::App& root, serve_options& opts) {
    auto* cmd = root.add_subcommand("serve", "accept tasks over TCP and publish them to RabbitMQ");
    cmd->add_option("--listen", opts.listen, "HOST:PORT to listen on (serve.listen)");
    cmd->add_option("--amqp", opts.amqp, "broker URL (amqp.url)");
    cmd->add_option("--queue", opts.queue, "task queue name (amqp.queue)");
    cmd->add_option("--http-listen", opts.http_listen, "HOST:PORT of /metrics, /livez, /readyz, or off (http.listen)");
    add_metrics_flag(*cmd, opts.metrics);
    return cmd;
}

int run_serve(config::settings s, const serve_options& opts) {
    log::set_role("serve");
    apply_options(s, opts);
    config::validate(s);
    config::apply_password_files(s);

    net::server_options sopts = server_options_of(s);  // first: refuses an unprotected port
    ops::raise_descriptor_limit(s.serve.max_connections);
    queue::connection_stats broker_stats;
    queue::publisher_options popts = publisher_options_of(s);
    popts.stats = &broker_stats;
    (void)queue::check_topology(popts.failover, popts.topo);  // exit 2 if the queues differ
    queue::publisher pub(popts);

    asio::io_context io(1);
    // Before the server, so it outlives every session that may still be waiting for a reply.
    // The opener owns a copy of the settings: a status thread stuck on the store outlives
    // this function (see status_reader).
    serve::status_reader status([settings = s](store::store_use use) { return open_configured_store(settings, use); },
                         status_threads, max_waiting_status);
    sight::role_sight ops_view(io, "serve");
    std::optional<metrics::serve_metrics> counted;  // empty: [http] metrics = false
    if (s.http.metrics)
        counted.emplace(ops_view.registry(), s.http.type_label_limit);
    else
        ops_view.turn_metrics_off();
    metrics::serve_metrics* counts = counted ? &*counted : nullptr;
    // Cancels of tasks queued to run now, and of running ones (decision 0015).
    auto accepted = std::make_shared<serve::accepted_ids>(static_cast<std::size_t>(s.cancel.remember_ids));
    serve::cancel_broadcaster cancel_events([s](std::size_t attempt) { return broker_url_of(s, attempt); });
    status.set_cancel_hooks({accepted, cancel_events.announcer()});
    serve::dead_letter_desk dead(dead_letters_opener(s), max_waiting_dead);
    auto dispatcher = serve::make_request_dispatcher(pub, s.amqp.queue, status, s.schedule, counts, accepted, dead);
    if (counts) sopts.observe = observers_of(*counts);
    net::server server(io, sopts, *dispatcher);
    sight::watch_serve(ops_view, server, pub, broker_stats, popts.confirm_timeout);
    sight::worker_roster roster(s, [s](std::size_t attempt) { return broker_url_of(s, attempt); });
    sight::http_gate gate(sopts.auth);
    ops_view.add_route("/api/workers", [&roster, gate](const http::request& r) {
        if (auto refused = gate.refuse(r, auth::scope::status)) return std::move(*refused);
        return http::response{200, "application/json", roster.json()};
    });
    page_parts page = status_page(s, ops_view, gate, counts, broker_stats, roster, status, popts, dead);

    pub.start();
    server.start();
    ops_view.start(sight::http_listen_of(s.http.listen, "127.0.0.1:5080"));
    roster.start();
    cancel_events.start();
    page.queues->start();
    PFO3_LOG(info, "serve listening", {{"listen", s.serve.listen}, {"port", std::to_string(server.port())},
                                       {"amqp", popts.url.masked()}, {"queue", s.amqp.queue},
                                       {"config", s.source}});
    // Ready means "answers clients": a broker that is down makes requests fail fast with
    // `unavailable`, which is a state to report, not a reason to hold the unit in start-up.
    bool connected = pub.wait_connected(std::chrono::milliseconds(s.serve.confirm_timeout_ms));
    ops::notify_ready(connected ? "listening; broker connected" : "listening; broker unreachable, retrying");

    credential_reloader reload(io, server, s, [gate](std::shared_ptr<const auth::policy> p) mutable {
        gate.set(std::move(p));  // the HTTP listener's copies of the gate share it
    });
    serve::graceful_stop stop(
        io, server, std::chrono::seconds(s.serve.shutdown_grace_s),
        [&reload, &ops_view] {
            reload.stop();
            ops_view.mark_stopping();
        },
        [&ops_view] { ops_view.stop(); });
    io.run();

    // Every connection is answered or closed by now; what is still unconfirmed belongs to
    // clients that left, so waiting longer than one confirm timeout helps nobody.
    pub.stop(std::chrono::milliseconds(s.serve.confirm_timeout_ms));
    roster.stop();
    cancel_events.stop();
    page.queues->stop();
    PFO3_LOG(info, "serve stopped");
    return exit_ok;
}

}  // namespace pfo3::app
