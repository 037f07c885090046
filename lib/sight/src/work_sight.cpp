#include "pfo3/sight/work_sight.hpp"

#include <unistd.h>

#include <cmath>

#include "bounded_join.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/value.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/queue/queue_admin.hpp"

namespace pfo3::sight {

namespace {

// A valid id no task uses: reading it asks the store a real question (a round trip, a query,
// a GET) whose answer is "none".
constexpr std::string_view probe_id = "pfo3-readiness-probe";
// Tasks in hand a heartbeat lists (the oldest); the count says how many there are in all.
constexpr std::size_t max_beat_tasks = 20;

#ifndef PFO3_VERSION
#define PFO3_VERSION "0.0.0"
#endif
constexpr const char* PFO3_VERSION_TEXT = PFO3_VERSION;

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

work_sight::work_sight(const config::settings& s, store_opener open_store, broker_picker broker)
    : settings_(s),
      view_(io_, "work"),
      store_probe_(std::make_shared<probe>()),
      queue_probe_(std::make_shared<probe>()),
      beat_probe_(std::make_shared<probe>()) {
    store_probe_->settings = s;
    queue_probe_->settings = s;
    beat_probe_->settings = s;
    store_probe_->open_store = std::move(open_store);
    queue_probe_->broker = broker;
    beat_probe_->broker = std::move(broker);
    view_.watch_broker("consume", consumer_stats_, false);
    view_.watch_broker("republish", republish_stats_, true);
    view_.add_check("broker", [this]() -> std::optional<std::string> {
        if (view_.stopping()) return "stopping: no new deliveries";
        if (!consumer_stats_.up.load()) return "not connected to the broker";
        if (!consuming_.load()) return "connected but not consuming";
        return std::nullopt;
    });
    if (s.http.metrics) {
        add_metrics(s);
    } else {
        view_.turn_metrics_off();
        PFO3_LOG(info, "metrics are off ([http] metrics = false): no /metrics, no queue depths, no consuming "
                       "watchdog, heartbeats without counters");
    }
    view_.add_check("store", [this] { return store_problem(); });
}

// The metrics, the queue depths they export and the consuming watchdog that reads both.
void work_sight::add_metrics(const config::settings& s) {
    metrics_.emplace(view_.registry(), s.http.type_label_limit);
    metrics_->concurrency.set(s.work.concurrency);
    metrics_->prefetch.set(s.work.prefetch);
    const std::string names[2] = {s.amqp.queue, queue::topology{s.amqp.queue, s.amqp.queue_type}.dead_queue()};
    auto fill = [names](metrics::sample_writer& w, const std::atomic<std::int64_t>(&v)[2]) {
        for (int i = 0; i < 2; ++i)
            if (const auto n = v[i].load(); n >= 0) w.sample({{"queue", names[i]}}, static_cast<double>(n));
    };
    view_.registry().add_callback("pfo3_queue_messages",
                                  "Ready messages in the task and dead-letter queues (passive declare, every "
                                  "http.queue_check_s).",
                                  metrics::kind::gauge, [q = queue_probe_, fill](metrics::sample_writer& w) {
                                      fill(w, q->messages);
                                  });
    view_.registry().add_callback("pfo3_queue_consumers", "Consumers of the task and dead-letter queues.",
                                  metrics::kind::gauge, [q = queue_probe_, fill](metrics::sample_writer& w) {
                                      fill(w, q->consumers);
                                  });
    view_.add_check("consuming", [this] { return consuming_problem(); });
    view_.on_tick([this] { watch_consuming(); });
}

work_sight::~work_sight() { stop(); }

void work_sight::set_consuming(bool consuming) noexcept {
    if (consuming) consuming_since_ = unix_now();
    consuming_ = consuming;
}

void work_sight::start() {
    view_.start(http_listen_of(settings_.http.listen, "off"));
    loop_ = std::thread([this] {
        try {
            io_.run();
        } catch (const std::exception& e) {
            PFO3_LOG(error, "the operations loop stopped", {{"error", e.what()}});
        }
    });
    store_thread_ = std::thread(signalling_end(store_probe_, [p = store_probe_] {
        std::unique_ptr<store::result_store> store;
        probe_loop(
            p, std::chrono::seconds(p->settings.http.store_check_s), "the result store",
            [&] {
                if (!store) store = p->open_store();
                (void)store->read(probe_id);
            },
            [&] { store.reset(); });  // a new handle next time: the old one may be broken
    }));
    if (metrics_) start_queue_probe();
    if (settings_.http.heartbeat_s > 0)
        start_heartbeat();
    else
        PFO3_LOG(info, "heartbeats are off ([http] heartbeat_s = 0): serve does not list this worker");
}

void work_sight::start_queue_probe() {
    queue_thread_ = std::thread(signalling_end(queue_probe_, [p = queue_probe_] {
        std::unique_ptr<queue::queue_admin> admin;
        std::size_t connects = 0;
        const queue::topology topo{p->settings.amqp.queue, p->settings.amqp.queue_type};
        probe_loop(
            p, std::chrono::seconds(p->settings.http.queue_check_s), "the queue depths",
            [&] {
                if (!admin)
                    admin = std::make_unique<queue::queue_admin>(p->broker(connects++),
                                                                 "pfo3-work-probe " + ops::process_identity());
                const std::string names[2] = {topo.queue, topo.dead_queue()};
                for (int i = 0; i < 2; ++i) {
                    const auto info = admin->inspect(names[i]);
                    p->messages[i] = info.messages;
                    p->consumers[i] = info.consumers;
                }
            },
            [&] {
                admin.reset();  // the channel is closed after a failed declare: start afresh
                for (int i = 0; i < 2; ++i) p->messages[i] = p->consumers[i] = -1;
            });
    }));
}

void work_sight::start_heartbeat() {
    // The heartbeat thread reads this object's atomics; stop() lets it go only after the
    // probe's stop flag is set, and a beat never waits on anything but its own connection.
    beat_thread_ = std::thread(signalling_end(beat_probe_, [this, p = beat_probe_] {
        std::unique_ptr<queue::queue_admin> admin;
        std::size_t connects = 0;
        probe_loop(
            p, std::chrono::seconds(p->settings.http.heartbeat_s), "the heartbeat",
            [&] {
                if (!admin) {
                    admin = std::make_unique<queue::queue_admin>(p->broker(connects++),
                                                                 "pfo3-work-events " + ops::process_identity());
                    admin->declare_fanout(std::string(events_exchange));
                }
                std::string beat;
                {
                    std::lock_guard lk(p->mu);
                    if (p->stop) return;
                    beat = heartbeat();
                }
                admin->publish_event(std::string(events_exchange), beat);
            },
            [&] { admin.reset(); });
    }));
}

std::string work_sight::heartbeat() const {
    std::string b = "{\"kind\":\"worker\",\"id\":" + json::quote(ops::process_identity());
    b += ",\"pid\":" + std::to_string(::getpid());
    b += ",\"version\":" + json::quote(PFO3_VERSION_TEXT);
    b += ",\"queue\":" + json::quote(settings_.amqp.queue);
    b += ",\"concurrency\":" + std::to_string(settings_.work.concurrency);
    b += ",\"prefetch\":" + std::to_string(settings_.work.prefetch);
    b += std::string(",\"ready\":") + (view_.readiness().first ? "true" : "false");
    if (metrics_) append_counters(b);
    b += ",\"interval_s\":" + std::to_string(settings_.http.heartbeat_s);
    b += ",\"sent_at\":" + json::quote(rfc3339_now()) + "}";
    return b;
}

// What the metrics know of the worker's tasks; without metrics a beat leaves them out (serve's
// page and `pfo3 workers` show "-"), rather than claim zeros.
void work_sight::append_counters(std::string& b) const {
    const auto& m = *metrics_;
    const auto received = m.received_total.value();
    const auto in_flight = received - std::min(received, m.settled_total());
    b += ",\"in_flight\":" + std::to_string(in_flight);
    b += ",\"received\":" + std::to_string(received);
    b += ",\"done\":" + std::to_string(m.finished_total(metrics::outcome::done));
    b += ",\"retry\":" + std::to_string(m.finished_total(metrics::outcome::retry));
    b += ",\"dead\":" + std::to_string(m.finished_total(metrics::outcome::dead));
    // The oldest tasks in hand, bounded so a beat stays small whatever the concurrency.
    const auto hand = m.in_hand.take(max_beat_tasks);
    b += ",\"in_hand_count\":" + std::to_string(hand.count) + ",\"in_hand\":[";
    for (std::size_t i = 0; i < hand.first.size(); ++i) {
        b += i ? ",{\"id\":" : "{\"id\":";
        json::append_quoted(b, hand.first[i].id);
        b += ",\"type\":";
        json::append_quoted(b, hand.first[i].type);
        b += ",\"age_s\":" + json::number_text(std::floor(hand.first[i].age_s * 10) / 10) + "}";
    }
    b += "]";
}

void work_sight::stop() {
    if (stopped_) return;
    stopped_ = true;
    for (const auto& p : {store_probe_, queue_probe_, beat_probe_}) {
        {
            std::lock_guard lk(p->mu);
            p->stop = true;
        }
        p->wake.notify_all();
    }
    view_.stop();
    if (loop_.joinable()) loop_.join();
    // A probe stuck on a hung store or broker is not waited for beyond the grace: it owns its
    // state and handle.
    join_within(store_thread_, *store_probe_, stop_grace);
    join_within(queue_thread_, *queue_probe_, stop_grace);
    join_within(beat_thread_, *beat_probe_, stop_grace);
}

std::optional<std::string> work_sight::store_problem() const {
    std::lock_guard lk(store_probe_->mu);
    if (store_probe_->error) return "result store: " + *store_probe_->error;
    // A read that hangs never reports: a check older than a few periods means no answer.
    const auto age = std::chrono::steady_clock::now() - store_probe_->checked;
    if (age > 3 * std::chrono::seconds(settings_.http.store_check_s) + std::chrono::seconds(5))
        return "result store: no answer to the readiness read for " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) + " s";
    return std::nullopt;
}

std::optional<std::string> work_sight::consuming_problem() const {
    if (!stalled_.load()) return std::nullopt;
    return "a backlog of " + std::to_string(queue_probe_->messages[0].load()) +
           " tasks and free slots, but no delivery for " + std::to_string(settings_.work.consumer_watchdog_s) +
           " s: consuming again";
}

// On the ops loop, once a second.
void work_sight::watch_consuming() {
    const std::int64_t limit = settings_.work.consumer_watchdog_s;
    const auto backlog = queue_probe_->messages[0].load();
    const auto received = metrics_->received_total.value();
    const auto in_flight = received - std::min(received, metrics_->settled_total());
    const auto now = unix_now();
    const auto quiet = now - std::max(metrics_->last_delivery.value(), consuming_since_.load());
    const bool stalled = limit > 0 && consuming_.load() && consumer_stats_.up.load() && backlog > 0 &&
                         in_flight < static_cast<std::uint64_t>(settings_.work.prefetch) && quiet >= limit;
    stalled_ = stalled;
    if (!stalled || now - last_reconnect_ < limit) return;
    last_reconnect_ = now;
    PFO3_LOG(warn, "consuming watchdog: a backlog and free slots, but no delivery; consuming again",
             {{"queue", settings_.amqp.queue}, {"backlog", std::to_string(backlog)},
              {"in_flight", std::to_string(in_flight)}, {"quiet_s", std::to_string(quiet)}});
    reconnect_wanted_ = true;
}

void work_sight::probe_loop(const std::shared_ptr<probe>& p, std::chrono::seconds period, const char* what,
                            const std::function<void()>& once, const std::function<void()>& on_failure) {
    for (;;) {
        std::optional<std::string> problem;
        try {
            once();
        } catch (const std::exception& e) {
            problem = e.what();
            on_failure();
        }
        std::unique_lock lk(p->mu);
        if (problem && !p->error)
            PFO3_LOG(warn, std::string("readiness: cannot read ") + what, {{"error", *problem}});
        if (!problem && p->error && *p->error != "not checked yet")
            PFO3_LOG(info, std::string("readiness: ") + what + " answer again");
        p->error = std::move(problem);
        p->checked = std::chrono::steady_clock::now();
        if (p->wake.wait_for(lk, period, [&p] { return p->stop; })) return;
    }
}

}  // namespace pfo3::sight
