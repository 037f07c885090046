#pragma once
// The operations endpoints of a role (issue 14): the metrics registry with the figures every
// role has (build, process, broker connections), the liveness ticker that also feeds the
// systemd watchdog, the readiness checks, and the HTTP listener serving /livez, /readyz,
// /healthz and /metrics. Lives on the role's io_context (serve: its I/O thread; work: a thread
// of its own, see work_sight.hpp); checks and callbacks run there and must not block.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pfo3/http/server.hpp"
#include "pfo3/metrics/registry.hpp"
#include "pfo3/queue/connection_stats.hpp"

namespace pfo3::sight {

class role_sight {
public:
    /// A readiness check: nullopt when fine, else why not (shown in /readyz).
    using check = std::function<std::optional<std::string>()>;

    role_sight(boost::asio::io_context& io, std::string role);
    role_sight(const role_sight&) = delete;
    role_sight& operator=(const role_sight&) = delete;

    metrics::registry& registry() noexcept { return registry_; }
    /// Adds a check to /readyz, in order.
    void add_check(std::string name, check c);
    /// Exports a broker connection's state, node in use, last loss and reconnects (and, for a
    /// publisher, confirm timeouts) under connection="`name`"; /readyz names the node and the
    /// last loss under "brokers".
    void watch_broker(const std::string& name, const queue::connection_stats& stats, bool publishes);
    /// Serves GET `path` with `h` too (before start()).
    void add_route(std::string path, http::handler h) { extra_routes_.emplace(std::move(path), std::move(h)); }
    /// Who may read /metrics: `g` answers a refusal, or nullopt to serve it (before start()).
    using guard = std::function<std::optional<http::response>(const http::request&)>;
    void guard_metrics(guard g) { metrics_guard_ = std::move(g); }
    /// [http] metrics = false: GET /metrics answers 404 saying so (before start()). The role
    /// then records nothing in the registry; the other endpoints work as before.
    void turn_metrics_off() noexcept { metrics_off_ = true; }
    /// Runs `f` on every tick of the liveness ticker (about once a second, on the io thread).
    void on_tick(std::function<void()> f) { tickers_.push_back(std::move(f)); }

    /// Starts the ticker and, unless `listen` is "off", the HTTP listener (throws as
    /// http::server does).
    void start(const std::string& listen);
    /// Stops the ticker and the listener (posted to the io thread).
    void stop();
    /// The HTTP port, 0 if off.
    std::uint16_t port() const { return http_ ? http_->port() : 0; }

    /// The role is shutting down: readiness checks may say so (any thread).
    void mark_stopping() noexcept { stopping_ = true; }
    bool stopping() const noexcept { return stopping_.load(); }

    /// Readiness now: (all checks pass, the JSON body naming each).
    std::pair<bool, std::string> readiness() const;

private:
    void tick();
    std::string brokers_json() const;

    boost::asio::io_context& io_;
    std::string role_;
    metrics::registry registry_;
    std::vector<std::pair<std::string, check>> checks_;
    std::vector<std::pair<std::string, const queue::connection_stats*>> brokers_;
    std::vector<std::function<void()>> tickers_;
    std::map<std::string, http::handler> extra_routes_;
    guard metrics_guard_;
    bool metrics_off_ = false;
    boost::asio::steady_timer timer_;
    std::atomic<std::int64_t> last_tick_ns_{0};
    std::chrono::microseconds watchdog_{0};
    bool stopped_ = false;
    std::atomic<bool> stopping_{false};
    std::unique_ptr<http::server> http_;
};

/// The fanout exchange of pfo3's events (worker heartbeats); serve listens to it.
inline constexpr std::string_view events_exchange = "pfo3.events";

/// The configured [http] listen for a role: `configured` if set, else the role's default.
std::string http_listen_of(const std::string& configured, const std::string& role_default);

}  // namespace pfo3::sight
