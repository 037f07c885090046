#include "pfo3/sight/worker_roster.hpp"

#include <algorithm>
#include <cmath>

#include "bounded_join.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/value.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/sight/role_sight.hpp"

namespace pfo3::sight {

namespace {

using clock = std::chrono::steady_clock;
constexpr std::size_t max_beat_bytes = 16384;

queue::fanout_listener_options listener_options() {
    queue::fanout_listener_options o;
    o.exchange = std::string(events_exchange);
    o.connection_name = "pfo3-serve-events " + ops::process_identity();
    o.what = "worker heartbeats";
    o.message_ttl = std::chrono::milliseconds(60000);
    o.poll_period = std::chrono::seconds(1);
    o.stop_wait = stop_grace;
    return o;
}

}  // namespace

struct worker_roster::state {
    config::settings settings;
    mutable std::mutex mu;
    struct seen {
        std::string beat;  // re-encoded by our own parser: valid JSON whatever was published
        clock::time_point at;
        int interval_s = 5;
        bool ready = false;
        std::uint64_t finished[3] = {};  // done, retry, dead as last reported
    };
    worker_roster::counts_fn on_counts;
    std::map<std::string, seen> workers;

    // A worker gone this long is dropped from the list.
    static constexpr std::chrono::hours forget_after{1};
    void forget_long_gone() {
        std::lock_guard lk(mu);
        std::erase_if(workers, [now = clock::now()](const auto& w) { return now - w.second.at > forget_after; });
    }

    // Records one heartbeat body; false if it is not one.
    bool record(std::string_view body) {
        if (body.size() > max_beat_bytes) return false;
        std::string why;
        auto doc = json::parse(body, why, 8);
        if (!doc || !doc->root().is(json::kind::object)) return false;
        auto id = doc->root().find("id");
        if (!id || !id->is(json::kind::string) || id->string().empty() || id->string().size() > 256) return false;
        int interval = 5;
        if (auto i = doc->root().find("interval_s"); i && i->int64() && *i->int64() >= 1 && *i->int64() <= 3600)
            interval = static_cast<int>(*i->int64());
        std::uint64_t finished[3] = {};
        const char* names[3] = {"done", "retry", "dead"};
        for (int i = 0; i < 3; ++i)
            if (auto v = doc->root().find(names[i]); v && v->uint64()) finished[i] = *v->uint64();
        const auto ready = doc->root().find("ready");
        std::lock_guard lk(mu);
        auto [it, fresh] = workers.try_emplace(std::string(id->string()));
        auto& w = it->second;
        // A counter that went down belongs to a restarted worker: a new baseline, no delta.
        if (!fresh && on_counts) {
            std::uint64_t delta[3] = {};
            for (int i = 0; i < 3; ++i) delta[i] = finished[i] >= w.finished[i] ? finished[i] - w.finished[i] : 0;
            if (delta[0] || delta[1] || delta[2]) on_counts(delta[0], delta[1], delta[2]);
        }
        w = {doc->root().compact(), clock::now(), interval, ready && ready->is(json::kind::boolean) && ready->boolean(),
             {finished[0], finished[1], finished[2]}};
        if (workers.size() > max_workers) {
            auto oldest = std::min_element(workers.begin(), workers.end(),
                                           [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
            workers.erase(oldest);
        }
        return true;
    }
};

worker_roster::worker_roster(const config::settings& s, broker_picker broker)
    : state_(std::make_shared<state>()),
      listener_(
          listener_options(), std::move(broker),
          [st = state_](std::string_view body) {
              if (!st->record(body)) PFO3_LOG(debug, "ignored a message on pfo3.events that is no heartbeat");
          },
          {}, [st = state_] { st->forget_long_gone(); }) {
    state_->settings = s;
}

worker_roster::~worker_roster() { stop(); }

void worker_roster::on_counts(counts_fn f) {
    std::lock_guard lk(state_->mu);
    state_->on_counts = std::move(f);
}

worker_roster::tally worker_roster::count() const {
    std::lock_guard lk(state_->mu);
    const auto now = clock::now();
    tally t;
    for (const auto& [id, w] : state_->workers) {
        if (now - w.at > 3 * std::chrono::seconds(w.interval_s)) continue;
        ++t.alive;
        if (w.ready) ++t.ready;
    }
    return t;
}

void worker_roster::start() { listener_.start(); }

void worker_roster::stop() { listener_.stop(); }  // its thread owns the state; may be stuck on the broker

std::string worker_roster::json() const {
    std::lock_guard lk(state_->mu);
    const auto now = clock::now();
    std::string out = "{\"workers\":[";
    bool first = true;
    for (const auto& [id, w] : state_->workers) {
        const auto ago = std::chrono::duration<double>(now - w.at).count();
        out += first ? "" : ",";
        first = false;
        out += "{\"id\":" + json::quote(id) + ",\"seen_s_ago\":" + json::number_text(std::floor(ago * 10) / 10) +
               ",\"gone\":" + (ago > 3.0 * w.interval_s ? "true" : "false") + ",\"beat\":" + w.beat + "}";
    }
    return out + "]}\n";
}

}  // namespace pfo3::sight
