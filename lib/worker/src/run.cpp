#include "pfo3/worker/run.hpp"

#include <atomic>
#include <cstdlib>
#include <memory>

#include "counting_settler.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/handlers/registry.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/ops/notify.hpp"
#include "pfo3/ops/process_limits.hpp"
#include "pfo3/queue/configured.hpp"
#include "pfo3/queue/consumer.hpp"
#include "pfo3/queue/publisher.hpp"
#include "pfo3/queue/topology_check.hpp"
#include "pfo3/sight/work_sight.hpp"
#include "pfo3/store/configured_store.hpp"
#include "pfo3/worker/cancel_listener.hpp"
#include "pfo3/worker/engine.hpp"

namespace pfo3::worker {

namespace {

handlers::registry make_registry(const config::settings& s) {
    std::map<std::string, handlers::external_command> ext;
    for (const auto& [name, h] : s.handlers)
        ext[name] = {h.command, ms_of_seconds(h.timeout_s), h.env};
    return handlers::registry(std::move(ext));
}

engine_options make_engine_options(const config::settings& s, const queue::topology& topo,
                                   const std::string& identity, metrics::work_metrics* m) {
    engine_options o;
    o.concurrency = s.work.concurrency;
    o.max_group = static_cast<std::size_t>(s.work.prefetch);  // a group never exceeds what the broker lets us hold
    o.max_attempts = s.retry.max_attempts;
    o.max_attempts_limit = s.retry.max_attempts_limit;
    o.retry_backoff = backoff_policy{ms_of_seconds(s.retry.backoff_base_s), s.retry.backoff_factor, ms_of_seconds(s.retry.backoff_max_s),
                                     s.retry.jitter};
    o.topo = topo;
    o.worker = identity;
    o.metrics = m;
    return o;
}

// The result store, opened before anything consumes: a store no retry can make usable (bad
// credentials, missing bucket) is a configuration error (exit 2), not an outage.
std::unique_ptr<store::result_store> open_store_or_config_error(const config::settings& s) {
    try {
        return store::open_configured_store(s);
    } catch (const service_error& e) {
        if (e.retryable()) throw;
        throw config_error(std::string("store: ") + e.what());
    }
}

// The connection that republishes retries and dead letters, started.
std::unique_ptr<queue::publisher> start_republisher(const queue::broker_failover& broker,
                                                    const queue::topology& topo, const std::string& identity,
                                                    queue::connection_stats& stats) {
    queue::publisher_options popts;
    popts.stats = &stats;
    popts.url = broker.urls.front();
    popts.failover = broker;
    popts.topo = topo;
    popts.connection_name = "pfo3-work-republish " + identity;
    auto pub = std::make_unique<queue::publisher>(popts);
    pub->start();
    return pub;
}

// The consumer that hands each delivery to `engine` under a guard settled through `settler`
// (set by the caller before start(), since it needs the consumer), and tells systemd when
// consuming starts and stops.
std::unique_ptr<queue::consumer> make_consumer(const config::settings& s, const queue::broker_failover& broker,
                                               const queue::topology& topo, const std::string& identity,
                                               engine& engine, const std::unique_ptr<settler>& settler,
                                               sight::work_sight& view) {
    queue::consumer_options copts;
    copts.url = broker.urls.front();
    copts.failover = broker;
    copts.topo = topo;
    copts.prefetch = static_cast<std::uint16_t>(s.work.prefetch);
    copts.connection_name = "pfo3-work " + identity;
    copts.on_burst_end = [&engine] { engine.flush(); };  // collect() gathers, this hands over
    copts.stats = &view.consumer_stats();
    auto ready_sent = std::make_shared<std::atomic<bool>>(false);
    return std::make_unique<queue::consumer>(
        copts,
        [&engine, &settler, m = view.metrics()](queue::delivery d) {
            if (m) m->received(d.redelivered);  // null: [http] metrics = false
            engine.collect(delivery_guard(std::move(d), *settler));
        },
        [ready_sent, queue_name = s.amqp.queue, &view](bool consuming) {
            view.set_consuming(consuming);
            if (consuming && !ready_sent->exchange(true)) ops::notify_ready("consuming from " + queue_name);
            ops::notify_status(consuming ? "consuming from " + queue_name : "broker connection lost, reconnecting");
        });
}

// After the first stop signal: no new deliveries; the tasks in hand run and are stored within
// the grace period, and a second signal ends the wait at once. False if some are unfinished.
bool finish_in_hand(const config::settings& s, const sigset_t& stop_signals, int sig, queue::consumer& consumer,
                    engine& engine) {
    ops::notify_stopping();
    PFO3_LOG(info, "stopping: finishing the tasks in hand", {{"signal", std::to_string(sig)},
                                                            {"grace_s", std::to_string(s.work.shutdown_grace_s)}});
    consumer.cancel();
    engine.close_intake();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(s.work.shutdown_grace_s);
    bool finished = false;
    while (!(finished = engine.finish(std::chrono::milliseconds(100)))) {
        if (std::chrono::steady_clock::now() >= deadline) break;
        if (ops::wait_stop_signal(stop_signals, std::chrono::milliseconds(0), sig)) {
            PFO3_LOG(warn, "second signal: stopping now");
            break;
        }
    }
    return finished;
}

}  // namespace

void run(const config::settings& s, int abandoned_exit) {
    const sigset_t stop_signals = ops::block_stop_signals();

    const auto broker = queue::broker_failover_of(s);
    const auto& url = broker.urls.front();
    auto store = open_store_or_config_error(s);
    auto registry = make_registry(s);
    const auto identity = ops::process_identity();
    const queue::topology topo = queue::topology_of(s);
    (void)queue::check_topology(broker, topo);  // exit 2 if the queues differ
    sight::work_sight view(
        s, [s] { return store::open_configured_store(s); },
        [s](std::size_t attempt) { return queue::broker_url_of(s, attempt); });
    view.start();
    auto dead_letters = start_republisher(broker, topo, identity, view.republish_stats());
    publisher_sink sink(*dead_letters);

    // Declared before the engine so that it outlives every delivery guard the engine holds.
    std::unique_ptr<queue::consumer> consumer;
    std::unique_ptr<consumer_settler> consumer_acks;
    std::unique_ptr<settler> counted;
    // Cancels of queued and running tasks (decision 0015): listed before the first delivery.
    auto cancels = std::make_shared<cancel_board>(static_cast<std::size_t>(s.cancel.max_pending),
                                                  std::chrono::seconds(s.cancel.grace_s));
    cancel_listener cancel_events(
        cancels, [s](std::size_t attempt) { return queue::broker_url_of(s, attempt); },
        [s] { return store::open_configured_store(s); }, static_cast<std::size_t>(s.cancel.max_pending));
    cancel_events.preload(*store);
    cancel_events.start();
    auto engine_opts = make_engine_options(s, topo, identity, view.metrics());
    engine_opts.cancels = cancels.get();
    engine engine(std::move(engine_opts), registry, *store, sink);
    consumer = make_consumer(s, broker, topo, identity, engine, counted, view);
    consumer_acks = std::make_unique<consumer_settler>(*consumer);
    if (auto* m = view.metrics())
        counted = std::make_unique<counting_settler>(*consumer_acks, *m);
    else
        counted = std::move(consumer_acks);  // [http] metrics = false: nothing counts the settles
    consumer->start();
    PFO3_LOG(info, "worker started",
             {{"amqp", url.masked()}, {"queue", s.amqp.queue}, {"prefetch", std::to_string(s.work.prefetch)},
              {"concurrency", std::to_string(s.work.concurrency)}, {"store", store->describe()},
              {"config", s.source}});

    int sig = 0;
    // The consumer is this thread's: the consuming watchdog only asks for the reconnect.
    while (!ops::wait_stop_signal(stop_signals, std::chrono::milliseconds(1000), sig))
        if (view.take_reconnect_request()) consumer->reconnect();
    view.mark_stopping();
    if (!finish_in_hand(s, stop_signals, sig, *consumer, engine)) {
        engine.abandon();
        PFO3_LOG(warn, "tasks still running are abandoned unacked; RabbitMQ will redeliver them");
        consumer->stop();
        dead_letters->stop(std::chrono::milliseconds(0));
        // Handler threads may still hold references into this frame: leave without unwinding.
        std::_Exit(abandoned_exit);
    }
    consumer->stop();
    dead_letters->stop();
    cancel_events.stop();
    view.stop();
    PFO3_LOG(info, "worker stopped");
}

}  // namespace pfo3::worker
