#include "pfo3/serve/run.hpp"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "pfo3/core/log.hpp"
#include "pfo3/metrics/serve_metrics.hpp"
#include "pfo3/net/server.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/ops/notify.hpp"
#include "pfo3/ops/process_limits.hpp"
#include "pfo3/queue/configured.hpp"
#include "pfo3/queue/publisher.hpp"
#include "pfo3/queue/topology_check.hpp"
#include "pfo3/serve/accepted_ids.hpp"
#include "pfo3/serve/cancel_broadcaster.hpp"
#include "pfo3/serve/dead_letter_desk.hpp"
#include "pfo3/serve/graceful_stop.hpp"
#include "pfo3/serve/request_dispatcher.hpp"
#include "pfo3/serve/status_reader.hpp"
#include "pfo3/sight/http_gate.hpp"
#include "pfo3/sight/role_sight.hpp"
#include "pfo3/sight/serve_sight.hpp"
#include "pfo3/sight/serve_status_page.hpp"
#include "pfo3/store/configured_store.hpp"
#include "serve_auth.hpp"

namespace pfo3::serve {

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
dead_letter_desk::opener dead_letters_opener(const config::settings& s) {
    return [s](std::size_t attempt) {
        return std::make_unique<queue::dead_letters>(queue::broker_url_of(s, attempt), queue::topology_of(s),
                                                     std::chrono::milliseconds(s.serve.confirm_timeout_ms),
                                                     "pfo3-serve dead letters " + ops::process_identity());
    };
}

queue::publisher_options publisher_options_of(const config::settings& s) {
    queue::publisher_options popts;
    popts.failover = queue::broker_failover_of(s);
    popts.url = popts.failover.urls.front();
    popts.topo = queue::topology_of(s);
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

}  // namespace

void run(const config::settings& s) {
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
    status_reader status([settings = s](store::store_use use) { return store::open_configured_store(settings, use); },
                         status_threads, max_waiting_status);
    sight::role_sight ops_view(io, "serve");
    std::optional<metrics::serve_metrics> counted;  // empty: [http] metrics = false
    if (s.http.metrics)
        counted.emplace(ops_view.registry(), s.http.type_label_limit);
    else
        ops_view.turn_metrics_off();
    metrics::serve_metrics* counts = counted ? &*counted : nullptr;
    // Cancels of tasks queued to run now, and of running ones (decision 0015).
    auto accepted = std::make_shared<accepted_ids>(static_cast<std::size_t>(s.cancel.remember_ids));
    cancel_broadcaster cancel_events([s](std::size_t attempt) { return queue::broker_url_of(s, attempt); });
    status.set_cancel_hooks({accepted, cancel_events.announcer()});
    dead_letter_desk dead(dead_letters_opener(s), max_waiting_dead);
    auto dispatcher = make_request_dispatcher(pub, s.amqp.queue, status, s.schedule, counts, accepted, dead);
    if (counts) sopts.observe = observers_of(*counts);
    net::server server(io, sopts, *dispatcher);
    sight::watch_serve(ops_view, server, pub, broker_stats, popts.confirm_timeout);
    sight::http_gate gate(sopts.auth);
    // After the desk, so it is stopped (and lets go of the desk) before the desk goes.
    sight::serve_status_page page(
        s, ops_view, gate, counts, broker_stats,
        [&dead](json::request req, std::function<void(std::string)> done) { dead.handle(std::move(req), std::move(done)); },
        [&status](std::string id, std::function<void(std::string)> done) { status.read(std::move(id), std::move(done)); });

    pub.start();
    server.start();
    ops_view.start(sight::http_listen_of(s.http.listen, "127.0.0.1:5080"));
    cancel_events.start();
    page.start();
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
    graceful_stop stop(
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
    page.stop();
    cancel_events.stop();
    PFO3_LOG(info, "serve stopped");
}

}  // namespace pfo3::serve
