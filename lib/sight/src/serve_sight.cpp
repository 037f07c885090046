#include "pfo3/sight/serve_sight.hpp"

#include <memory>

namespace pfo3::sight {

void watch_serve(role_sight& s, const net::server& server, const queue::publisher& pub,
                 const queue::connection_stats& stats, std::chrono::milliseconds confirm_timeout) {
    using metrics::kind;
    s.watch_broker("publish", stats, true);
    auto& r = s.registry();
    r.add_callback("pfo3_serve_connections", "Open client connections.", kind::gauge,
                   [&server](metrics::sample_writer& w) { w.sample(static_cast<double>(server.connection_count())); });
    r.add_callback("pfo3_serve_unconfirmed_publishes", "Tasks published and waiting for the broker's confirm.",
                   kind::gauge, [&pub](metrics::sample_writer& w) { w.sample(static_cast<double>(pub.outstanding())); });

    s.add_check("listening", [&s]() -> std::optional<std::string> {
        if (s.stopping()) return "stopping: no new connections";
        return std::nullopt;
    });
    s.add_check("broker", [&pub]() -> std::optional<std::string> {
        // connected() is set once the channel is in confirm mode.
        if (!pub.connected()) return "not connected to the broker (tasks are answered unavailable)";
        return std::nullopt;
    });
    // A confirm timeout seen by the ticker keeps serve unready for two timeouts after it.
    struct confirm_watch {
        std::uint64_t seen = 0;
        std::chrono::steady_clock::time_point last{};
    };
    auto watch = std::make_shared<confirm_watch>();
    watch->seen = stats.confirm_timeouts.load();
    s.on_tick([watch, &stats] {
        const auto now = stats.confirm_timeouts.load();
        if (now != watch->seen) {
            watch->seen = now;
            watch->last = std::chrono::steady_clock::now();
        }
    });
    s.add_check("confirms", [watch, confirm_timeout]() -> std::optional<std::string> {
        if (watch->last != std::chrono::steady_clock::time_point{} &&
            std::chrono::steady_clock::now() - watch->last < 2 * confirm_timeout)
            return "a publish went unconfirmed past serve.confirm_timeout_ms lately";
        return std::nullopt;
    });
}

}  // namespace pfo3::sight
