#include "pfo3/sight/role_sight.hpp"

#include <boost/asio/post.hpp>

#include "pfo3/json/message.hpp"
#include "pfo3/ops/notify.hpp"
#include "pfo3/ops/process_figures.hpp"

#ifndef PFO3_VERSION
#define PFO3_VERSION "0.0.0"
#endif

namespace pfo3::sight {

namespace {

namespace asio = boost::asio;

constexpr std::chrono::seconds tick_period{1};
// The loop is live while a tick came this recently (many periods: a loaded machine is slow).
constexpr std::chrono::seconds live_within{10};

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void register_process(metrics::registry& r, const std::string& role) {
    using metrics::kind;
    r.add_callback("pfo3_build_info", "pfo3 version and role; always 1.", kind::gauge,
                   [role](metrics::sample_writer& w) { w.sample({{"version", PFO3_VERSION}, {"role", role}}, 1); });
    // One /proc read per scrape, shared by the families below (render() calls them in order).
    auto figures = std::make_shared<ops::process_figures>();
    r.add_callback("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", kind::counter,
                   [figures](metrics::sample_writer& w) {
                       *figures = ops::read_process_figures();
                       w.sample(figures->cpu_seconds);
                   });
    r.add_callback("process_resident_memory_bytes", "Resident memory size in bytes.", kind::gauge,
                   [figures](metrics::sample_writer& w) { w.sample(static_cast<double>(figures->resident_bytes)); });
    r.add_callback("process_virtual_memory_bytes", "Virtual memory size in bytes.", kind::gauge,
                   [figures](metrics::sample_writer& w) { w.sample(static_cast<double>(figures->virtual_bytes)); });
    r.add_callback("process_open_fds", "Open file descriptors.", kind::gauge,
                   [figures](metrics::sample_writer& w) { w.sample(static_cast<double>(figures->open_fds)); });
    r.add_callback("process_max_fds", "The limit of open file descriptors.", kind::gauge,
                   [figures](metrics::sample_writer& w) { w.sample(static_cast<double>(figures->max_fds)); });
    r.add_callback("process_start_time_seconds", "Start time of the process since the epoch, in seconds.",
                   kind::gauge, [figures](metrics::sample_writer& w) { w.sample(figures->start_time_seconds); });
}

}  // namespace

std::string http_listen_of(const std::string& configured, const std::string& role_default) {
    return configured.empty() ? role_default : configured;
}

role_sight::role_sight(asio::io_context& io, std::string role) : io_(io), role_(std::move(role)), timer_(io) {
    register_process(registry_, role_);
    registry_.add_callback("pfo3_ready", "1 while every readiness check passes (GET /readyz answers 200).",
                           metrics::kind::gauge, [this](metrics::sample_writer& w) {
                               bool ready = true;
                               for (const auto& [name, c] : checks_) ready = ready && !c();
                               w.sample({{"role", role_}}, ready ? 1 : 0);
                           });
    last_tick_ns_ = now_ns();
}

void role_sight::add_check(std::string name, check c) { checks_.emplace_back(std::move(name), std::move(c)); }

void role_sight::watch_broker(const std::string& name, const queue::connection_stats& stats, bool publishes) {
    using metrics::kind;
    registry_.add_callback("pfo3_broker_connected", "1 while the broker connection is up and set up.", kind::gauge,
                           [name, &stats](metrics::sample_writer& w) {
                               w.sample({{"connection", name}}, stats.up.load() ? 1 : 0);
                           });
    registry_.add_callback(
        "pfo3_broker_reconnects_total",
        "Reasons the role had to connect again: an established connection lost, or an attempt that failed.",
        kind::counter, [name, &stats](metrics::sample_writer& w) {
            w.sample({{"connection", name}, {"reason", "connection_lost"}}, static_cast<double>(stats.lost.load()));
            w.sample({{"connection", name}, {"reason", "connect_failed"}},
                     static_cast<double>(stats.failed_attempts.load()));
        });
    registry_.add_callback("pfo3_broker_node_info",
                           "The broker URL in use (masked) and its place in amqp.urls; 1 once connected.", kind::gauge,
                           [name, &stats](metrics::sample_writer& w) {
                               const auto n = stats.note();
                               if (n.node == 0) return;
                               w.sample({{"connection", name},
                                         {"node", std::to_string(n.node) + "/" + std::to_string(n.nodes)},
                                         {"url", n.url}},
                                        1);
                           });
    registry_.add_callback("pfo3_broker_last_loss_timestamp_seconds",
                           "When the last broker connection in use was lost, and why (kind), since the epoch.",
                           kind::gauge, [name, &stats](metrics::sample_writer& w) {
                               const auto n = stats.note();
                               if (n.last_loss_at == 0) return;
                               w.sample({{"connection", name}, {"kind", n.last_loss_kind}},
                                        static_cast<double>(n.last_loss_at));
                           });
    brokers_.emplace_back(name, &stats);
    if (!publishes) return;
    registry_.add_callback("pfo3_broker_confirm_timeouts_total",
                           "Publishes with no broker confirm within the timeout (not accepted).", kind::counter,
                           [name, &stats](metrics::sample_writer& w) {
                               w.sample({{"connection", name}}, static_cast<double>(stats.confirm_timeouts.load()));
                           });
}

std::pair<bool, std::string> role_sight::readiness() const {
    bool ready = true;
    std::string body = "{\"role\":" + json::quote(role_) + ",\"checks\":[";
    for (std::size_t i = 0; i < checks_.size(); ++i) {
        auto problem = checks_[i].second();
        ready = ready && !problem;
        if (i) body += ',';
        body += "{\"name\":" + json::quote(checks_[i].first) + ",\"ok\":" + (problem ? "false" : "true");
        if (problem) body += ",\"error\":" + json::quote(*problem);
        body += '}';
    }
    body += ']';
    if (!brokers_.empty()) body += ",\"brokers\":" + brokers_json();
    body += std::string(",\"ready\":") + (ready ? "true" : "false") + "}\n";
    return {ready, body};
}

std::string role_sight::brokers_json() const {
    std::string out = "{";
    for (std::size_t i = 0; i < brokers_.size(); ++i) {
        const auto& [name, stats] = brokers_[i];
        const auto n = stats->note();
        if (i) out += ',';
        out += json::quote(name) + ":{\"connected\":" + (stats->up.load() ? "true" : "false");
        if (n.node > 0)
            out += ",\"url\":" + json::quote(n.url) + ",\"node\":" +
                   json::quote(std::to_string(n.node) + "/" + std::to_string(n.nodes));
        if (n.last_loss_at > 0)
            out += ",\"last_loss\":{\"kind\":" + json::quote(n.last_loss_kind) + ",\"error\":" +
                   json::quote(n.last_loss) + ",\"at\":" + std::to_string(n.last_loss_at) + "}";
        out += '}';
    }
    return out + "}";
}

void role_sight::start(const std::string& listen) {
    watchdog_ = ops::watchdog_interval();
    tick();
    if (listen == "off") return;
    auto ready = [this] {
        auto [ok, body] = readiness();
        return http::response{ok ? 200u : 503u, "application/json", std::move(body)};
    };
    std::map<std::string, http::handler> routes{
        {"/livez",
         [this] {
             const bool live = now_ns() - last_tick_ns_.load() <
                               std::chrono::duration_cast<std::chrono::nanoseconds>(live_within).count();
             return http::response{live ? 200u : 503u, "application/json",
                                   std::string("{\"live\":") + (live ? "true" : "false") + "}\n"};
         }},
        {"/readyz", ready},
        {"/healthz", ready},
        {"/metrics",
         [this](const http::request& r) {
             if (metrics_guard_)
                 if (auto refused = metrics_guard_(r)) return std::move(*refused);
             if (metrics_off_)
                 return http::response{404, "text/plain; charset=utf-8",
                                       "metrics are off in the config ([http] metrics = false)\n"};
             return http::response{200, "text/plain; version=0.0.4; charset=utf-8", registry_.render()};
         }},
    };
    routes.merge(extra_routes_);
    http::server_options o;
    o.listen = listen;
    http_ = std::make_unique<http::server>(io_, o, std::move(routes));
    http_->start();
}

void role_sight::stop() {
    asio::post(io_, [this] {
        stopped_ = true;
        timer_.cancel();
    });
    if (http_) http_->stop();
}

void role_sight::tick() {
    last_tick_ns_ = now_ns();
    // The watchdog follows the loop alone: a broker or store outage must not get it restarted.
    if (watchdog_.count() > 0) ops::notify_watchdog();
    for (auto& f : tickers_) f();
    if (stopped_) return;
    timer_.expires_after(tick_period);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && !stopped_) tick();
    });
}

}  // namespace pfo3::sight
