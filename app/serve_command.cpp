#include "broker_options.hpp"
#include "serve_command.hpp"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>

#include "client_auth.hpp"
#include "common.hpp"
#include "serve_schedule.hpp"
#include "store_access.hpp"
#include "pfo3/queue/topology_check.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/metrics/serve_metrics.hpp"
#include "pfo3/net/server.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/ops/notify.hpp"
#include "pfo3/ops/process_limits.hpp"
#include "pfo3/serve/graceful_stop.hpp"
#include "pfo3/serve/status_reader.hpp"
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

// Turns requests into publishes and status look-ups. Runs on the I/O thread; publish
// completions arrive on the publisher thread, status answers on a status_reader thread, and
// both go back through `reply`, which the server posts to the connection's strand.
class serve_dispatcher final : public net::dispatcher {
public:
    serve_dispatcher(queue::publisher& pub, std::string queue, serve::status_reader& status,
                     config::schedule_settings schedule, metrics::serve_metrics& m)
        : pub_(pub), queue_(std::move(queue)), status_(status), schedule_(schedule),
          identity_(ops::process_identity()), m_(m) {}

    void dispatch(json::request req, reply done) override {
        switch (req.kind) {
        case json::op::ping:
            m_.request(metrics::request_op::ping, std::nullopt);
            done(json::encode_pong());
            return;
        case json::op::status:
            status_.read(std::move(req.id), [&m = m_, done = std::move(done)](std::string line) {
                m.request(metrics::request_op::status, error_of(line));
                done(std::move(line));
            });
            return;
        case json::op::submit: submit(std::move(req), std::move(done)); return;
        case json::op::cancel:
            status_.cancel(std::move(req.id), std::move(req.reason), [&m = m_, done = std::move(done)](std::string line) {
                m.request(metrics::request_op::cancel, error_of(line));
                done(std::move(line));
            });
            return;
        case json::op::auth: break;  // answered by the connection (net::session), never here
        }
        done(json::encode_rejected(request_error::bad_request, "op not handled by serve"));
    }

private:
    void submit(json::request req, reply done) {
        task t;
        t.id = req.id.empty() ? make_task_id() : std::move(req.id);
        t.type = std::move(req.type);
        t.payload_json = std::move(req.payload_json);
        t.max_attempts = req.max_attempts;
        t.timeout_ms = req.timeout_ms;
        t.priority = req.priority;
        auto now = std::chrono::system_clock::now();
        t.submitted_at = to_rfc3339(now);
        schedule_plan plan = plan_schedule(req, now, schedule_);
        if (!plan.problem.empty()) return done(json::encode_rejected(request_error::bad_request, plan.problem, t.id));
        t.run_at = plan.run_at;
        queue::outgoing_message msg;
        msg.delay_units = plan.units;
        msg.priority = t.priority;
        msg.routing_key = queue_;
        msg.body = json::encode_message(t);
        msg.message_id = t.id;
        msg.type = t.type;
        msg.timestamp = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        const std::size_t slot = m_.type_slot(t.type);
        if (plan.units > 0) return submit_scheduled(std::move(msg), std::move(t), slot, std::move(done));
        pub_.publish(std::move(msg), [id = std::move(t.id), done = std::move(done), &m = m_, slot,
                                      sent = std::chrono::steady_clock::now()](queue::publish_outcome o) {
            count(m, o, slot, sent);
            done(answer(o, id));
        });
    }

    // A delayed task: once the broker holds it, its `scheduled` record is written on a status
    // thread (never on the I/O thread), then the client hears `scheduled` (decision 0012).
    void submit_scheduled(queue::outgoing_message msg, task t, std::size_t slot, reply done) {
        pub_.publish(std::move(msg), [this, t = std::move(t), done = std::move(done), slot,
                                      sent = std::chrono::steady_clock::now()](queue::publish_outcome o) mutable {
            count(m_, o, slot, sent);
            if (o != queue::publish_outcome::confirmed) return done(answer(o, t.id));
            std::string line = json::encode_scheduled(t.id, t.run_at);
            status_.record(scheduled_record(t, identity_), std::move(line), std::move(done));
        });
    }

    // The request counter, the confirm latency (of answers from the broker) and nacks/returns.
    static void count(metrics::serve_metrics& m, queue::publish_outcome o, std::size_t type_slot,
                      std::chrono::steady_clock::time_point sent) {
        using queue::publish_outcome;
        if (o == publish_outcome::confirmed || o == publish_outcome::nacked || o == publish_outcome::unroutable)
            m.confirm_latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count());
        switch (o) {
        case publish_outcome::confirmed:
            m.accepted(type_slot);
            return m.request(metrics::request_op::submit, std::nullopt);
        case publish_outcome::nacked: m.nacked.inc(); break;
        case publish_outcome::unroutable: m.returned.inc(); break;
        case publish_outcome::overloaded:
            return m.request(metrics::request_op::submit, request_error::overloaded);
        case publish_outcome::unavailable: break;
        }
        m.request(metrics::request_op::submit, request_error::unavailable);
    }

    // The error code of a reply line; nullopt for {"ok":true...}.
    static std::optional<request_error> error_of(std::string_view line) {
        if (line.starts_with("{\"ok\":true")) return std::nullopt;
        for (auto e : {request_error::bad_request, request_error::unavailable, request_error::overloaded,
                       request_error::bad_json, request_error::unauthorized, request_error::too_late,
                       request_error::not_found})
            if (line.find("\"" + std::string(wire_code(e)) + "\"") != std::string_view::npos) return e;
        return request_error::unavailable;
    }

    static std::string answer(queue::publish_outcome o, const std::string& id) {
        switch (o) {
        case queue::publish_outcome::confirmed: return json::encode_accepted(id);
        case queue::publish_outcome::nacked:
            return json::encode_rejected(request_error::unavailable,
                                         "the broker refused the task (nack); it was NOT accepted, retry later", id);
        case queue::publish_outcome::unroutable:
            return json::encode_rejected(request_error::unavailable,
                                         "the task queue does not exist on the broker; it was NOT accepted", id);
        case queue::publish_outcome::overloaded:
            return json::encode_rejected(request_error::overloaded,
                                         default_message(request_error::overloaded), id);
        case queue::publish_outcome::unavailable: break;
        }
        return json::encode_rejected(request_error::unavailable, default_message(request_error::unavailable), id);
    }

    queue::publisher& pub_;
    std::string queue_;
    serve::status_reader& status_;
    config::schedule_settings schedule_;
    std::string identity_;
    metrics::serve_metrics& m_;
};

// The command line's overrides of the config file.
void apply_options(config::settings& s, const serve_options& opts) {
    if (opts.listen) s.serve.listen = *opts.listen;
    if (opts.amqp) {
        s.amqp.url = *opts.amqp;
        s.amqp.urls.clear();  // the flag's broker, not the file's list
    }
    if (opts.queue) s.amqp.queue = *opts.queue;
    if (opts.http_listen) s.http.listen = *opts.http_listen;
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
};

page_parts status_page(const config::settings& s, sight::role_sight& view, const sight::http_gate& gate,
                       metrics::serve_metrics& counts, const queue::connection_stats& broker,
                       sight::worker_roster& roster, serve::status_reader& status,
                       const queue::publisher_options& popts) {
    const auto topo = topology_of(s);
    page_parts parts{std::make_shared<sight::throughput>(),
                     std::make_shared<sight::queue_watch>(
                         std::vector<std::string>{topo.queue, topo.dead_queue()},
                         std::chrono::seconds(s.http.queue_check_s),
                         [s](std::size_t attempt) { return broker_url_of(s, attempt); })};
    using series = sight::throughput::series;
    roster.on_counts([m = parts.minutes](std::uint64_t done, std::uint64_t retried, std::uint64_t dead) {
        m->add(series::done, done);
        m->add(series::retried, retried);
        m->add(series::dead, dead);
    });
    view.on_tick([m = parts.minutes, &counts, last = counts.accepted_total()]() mutable {
        const auto now = counts.accepted_total();
        m->add(series::accepted, now - last);
        last = now;
    });
    view.guard_metrics([gate](const http::request& r) { return gate.refuse(r, auth::scope::metrics); });
    sight::page_options o;
    o.actions = s.web.actions;
    o.store = s.store.uri.substr(0, s.store.uri.find(':'));  // the kind, never credentials
    for (const auto& u : popts.failover.urls) o.broker_nodes.push_back(u.host + ":" + std::to_string(u.port));
    if (o.broker_nodes.empty()) o.broker_nodes.push_back(popts.url.host + ":" + std::to_string(popts.url.port));
    o.dead_queue = 1;
    // The dead-letter buttons' operations come with lib/queue's dead_letters (branch `dead`);
    // until they are wired here the POST endpoints check the token and answer 501.
    sight::add_status_page(view, gate, std::move(o),
                           sight::page_sources{counts, broker, roster, *parts.queues, *parts.minutes,
                                               [&status](std::string id, std::function<void(std::string)> done) {
                                                   status.read(std::move(id), std::move(done));
                                               },
                                               {}});
    return parts;
}

}  // namespace

CLI::App* setup_serve(CLI::App& root, serve_options& opts) {
    auto* cmd = root.add_subcommand("serve", "accept tasks over TCP and publish them to RabbitMQ");
    cmd->add_option("--listen", opts.listen, "HOST:PORT to listen on (serve.listen)");
    cmd->add_option("--amqp", opts.amqp, "broker URL (amqp.url)");
    cmd->add_option("--queue", opts.queue, "task queue name (amqp.queue)");
    cmd->add_option("--http-listen", opts.http_listen, "HOST:PORT of /metrics, /livez, /readyz, or off (http.listen)");
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
    metrics::serve_metrics counts(ops_view.registry(), s.http.type_label_limit);
    serve_dispatcher dispatcher(pub, s.amqp.queue, status, s.schedule, counts);
    sopts.observe = observers_of(counts);
    net::server server(io, sopts, dispatcher);
    sight::watch_serve(ops_view, server, pub, broker_stats, popts.confirm_timeout);
    sight::worker_roster roster(s, [s](std::size_t attempt) { return broker_url_of(s, attempt); });
    sight::http_gate gate(sopts.auth);
    ops_view.add_route("/api/workers", [&roster, gate](const http::request& r) {
        if (auto refused = gate.refuse(r, auth::scope::status)) return std::move(*refused);
        return http::response{200, "application/json", roster.json()};
    });
    page_parts page = status_page(s, ops_view, gate, counts, broker_stats, roster, status, popts);

    pub.start();
    server.start();
    ops_view.start(sight::http_listen_of(s.http.listen, "127.0.0.1:5080"));
    roster.start();
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
    page.queues->stop();
    PFO3_LOG(info, "serve stopped");
    return exit_ok;
}

}  // namespace pfo3::app
