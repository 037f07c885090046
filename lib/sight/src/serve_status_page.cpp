#include "pfo3/sight/serve_status_page.hpp"

#include "pfo3/auth/scopes.hpp"
#include "pfo3/queue/configured.hpp"
#include "pfo3/sight/dead_letter_cache.hpp"
#include "pfo3/sight/queue_watch.hpp"
#include "pfo3/sight/throughput.hpp"

namespace pfo3::sight {

namespace {

// Out of line: inlined into the std::function below, GCC 12 warns of an uninitialized read.
[[gnu::noinline]] bool answered_ok(const std::string& line) { return line.starts_with("{\"ok\":true"); }

// The page's dead-letter buttons and list go through serve's dead-letter desk.
dead_letter_ops page_dead_letter_ops(const dead_letter_desk_fn& desk, const std::shared_ptr<dead_letter_cache>& cache) {
    dead_letter_ops ops;
    ops.run = [desk](std::string action, std::vector<std::string> ids, dead_letter_ops::answer done) {
        json::request req;
        req.kind = action == "purge" ? json::op::dead_purge : json::op::dead_requeue;
        req.all = ids.empty();
        req.ids = std::move(ids);
        if (req.kind == json::op::dead_requeue) req.limit = json::max_dead_limit;
        desk(std::move(req), [done = std::move(done)](std::string line) {
            const bool ok = answered_ok(line);
            done(ok, std::move(line));
        });
    };
    ops.latest = [cache] { return cache->json(); };
    return ops;
}

// HOST:PORT of each broker URL, in the list's order (never credentials).
std::vector<std::string> broker_nodes_of(const config::settings& s) {
    std::vector<std::string> nodes;
    for (const auto& u : queue::broker_failover_of(s).urls) nodes.push_back(u.host + ":" + std::to_string(u.port));
    return nodes;
}

}  // namespace

serve_status_page::serve_status_page(const config::settings& s, role_sight& view, const http_gate& gate,
                                     const metrics::serve_metrics* counts, const queue::connection_stats& broker,
                                     dead_letter_desk_fn desk, task_reader read_task)
    : roster_(s, [s](std::size_t attempt) { return queue::broker_url_of(s, attempt); }),
      minutes_(std::make_shared<throughput>()) {
    const auto topo = queue::topology_of(s);
    queues_ = std::make_shared<queue_watch>(std::vector<std::string>{topo.queue, topo.dead_queue()},
                                            std::chrono::seconds(s.http.queue_check_s),
                                            [s](std::size_t attempt) { return queue::broker_url_of(s, attempt); });
    dead_letters_ = std::make_shared<dead_letter_cache>(
        [desk](std::function<void(std::string)> done) {
            json::request req;
            req.kind = json::op::dead_list;
            req.limit = 20;
            desk(std::move(req), std::move(done));
        },
        std::chrono::seconds(s.http.queue_check_s));

    view.add_route("/api/workers", [this, gate](const http::request& r) {
        if (auto refused = gate.refuse(r, auth::scope::status)) return std::move(*refused);
        return http::response{200, "application/json", roster_.json()};
    });
    using series = throughput::series;
    roster_.on_counts([m = minutes_](std::uint64_t done, std::uint64_t retried, std::uint64_t dead) {
        m->add(series::done, done);
        m->add(series::retried, retried);
        m->add(series::dead, dead);
    });
    view.on_tick([m = minutes_, counts, last = counts ? counts->accepted_total() : 0,
                  cache = dead_letters_]() mutable {
        if (counts) {  // null: [http] metrics = false, the page's accepted line stays empty
            const auto now = counts->accepted_total();
            m->add(series::accepted, now - last);
            last = now;
        }
        cache->tick();
    });
    view.guard_metrics([gate](const http::request& r) { return gate.refuse(r, auth::scope::metrics); });
    page_options o;
    o.actions = s.web.actions;
    o.store = s.store.uri.substr(0, s.store.uri.find(':'));  // the kind, never credentials
    o.broker_nodes = broker_nodes_of(s);
    o.dead_queue = 1;
    add_status_page(view, gate, std::move(o),
                    page_sources{counts, broker, roster_, *queues_, *minutes_, std::move(read_task),
                                 page_dead_letter_ops(desk, dead_letters_)});
}

serve_status_page::~serve_status_page() { stop(); }

void serve_status_page::start() {
    roster_.start();
    queues_->start();
}

void serve_status_page::stop() {
    roster_.stop();
    queues_->stop();
    dead_letters_->stop();
}

}  // namespace pfo3::sight
