#include "pfo3/sight/worker_roster.hpp"

#include <algorithm>
#include <cmath>

#include "bounded_join.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/value.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/queue/queue_admin.hpp"
#include "pfo3/sight/role_sight.hpp"

namespace pfo3::sight {

namespace {

using clock = std::chrono::steady_clock;
constexpr std::chrono::seconds poll_period{1};
constexpr std::chrono::seconds reconnect_wait{2};
constexpr std::chrono::milliseconds event_ttl{60000};
constexpr std::size_t max_beat_bytes = 16384;
constexpr std::size_t max_per_poll = 10000;

}  // namespace

struct worker_roster::state {
    config::settings settings;
    broker_picker broker;
    mutable std::mutex mu;
    std::condition_variable wake;
    bool stop = false;
    bool finished = false;  // the listener returned (bounded_join.hpp)
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

worker_roster::worker_roster(const config::settings& s, broker_picker broker) : state_(std::make_shared<state>()) {
    state_->settings = s;
    state_->broker = std::move(broker);
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

void worker_roster::start() {
    thread_ = std::thread(signalling_end(state_, [st = state_] { listen(st); }));
}

void worker_roster::stop() {
    {
        std::lock_guard lk(state_->mu);
        state_->stop = true;
    }
    state_->wake.notify_all();
    join_within(thread_, *state_, stop_grace);  // owns its state; may be stuck on the broker
}

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

void worker_roster::listen(const std::shared_ptr<state>& st) {
    bool warned = false;
    std::size_t connects = 0;
    auto pause = [&st](std::chrono::seconds d) {
        std::unique_lock lk(st->mu);
        return st->wake.wait_for(lk, d, [&st] { return st->stop; });
    };
    for (;;) {
        try {
            queue::queue_admin admin(st->broker(connects++),
                                     "pfo3-serve-events " + ops::process_identity());
            admin.declare_fanout(std::string(events_exchange));
            const std::string q = admin.declare_listener(std::string(events_exchange), event_ttl);
            if (warned) PFO3_LOG(info, "listening to worker heartbeats again");
            warned = false;
            for (;;) {
                std::size_t n = 0;
                while (n++ < max_per_poll) {
                    auto m = admin.get(q);
                    if (!m) break;
                    if (!st->record(m->body)) PFO3_LOG(debug, "ignored a message on pfo3.events that is no heartbeat");
                    admin.ack(m->tag);
                }
                st->forget_long_gone();
                if (pause(poll_period)) return;
            }
        } catch (const std::exception& e) {
            if (!warned) PFO3_LOG(warn, "cannot listen to worker heartbeats; retrying", {{"error", e.what()}});
            warned = true;
        }
        if (pause(reconnect_wait)) return;
    }
}

}  // namespace pfo3::sight
