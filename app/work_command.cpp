#include "work_command.hpp"

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <memory>

#include "common.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/handlers/registry.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/ops/notify.hpp"
#include "pfo3/queue/consumer.hpp"
#include "pfo3/queue/publisher.hpp"
#include "pfo3/store/result_store.hpp"
#include "pfo3/worker/engine.hpp"
#include "store_access.hpp"

namespace pfo3::app {

namespace {

handlers::registry make_registry(const config::settings& s) {
    std::map<std::string, handlers::external_command> ext;
    for (const auto& [name, h] : s.handlers)
        ext[name] = {h.command, std::chrono::milliseconds(static_cast<long long>(h.timeout_s * 1000)), h.env};
    return handlers::registry(std::move(ext));
}

worker::engine_options make_engine_options(const config::settings& s, const queue::topology& topo,
                                           const std::string& identity) {
    auto ms = [](double seconds) { return std::chrono::milliseconds(std::llround(seconds * 1000)); };
    worker::engine_options o;
    o.concurrency = s.work.concurrency;
    o.max_group = static_cast<std::size_t>(s.work.prefetch);  // a group never exceeds what the broker lets us hold
    o.max_attempts = s.retry.max_attempts;
    o.max_attempts_limit = s.retry.max_attempts_limit;
    o.retry_backoff = backoff_policy{ms(s.retry.backoff_base_s), s.retry.backoff_factor, ms(s.retry.backoff_max_s),
                                     s.retry.jitter};
    o.topo = topo;
    o.worker = identity;
    return o;
}

// RabbitMQ (3.8.15+) closes the channel of a consumer holding one delivery longer than its
// consumer_timeout (30 min by default): the task is redelivered and counts as an attempt.
void warn_consumer_timeout(const config::settings& s) {
    for (const auto& [name, h] : s.handlers)
        if (h.timeout_s >= 30 * 60)
            PFO3_LOG(warn, "a handler may run longer than RabbitMQ's default consumer_timeout (30 min): raise "
                           "consumer_timeout in rabbitmq.conf above it, or its tasks are redelivered and retried",
                     {{"handler", name}, {"timeout_s", std::to_string(h.timeout_s)}});
}

// Waits for SIGINT/SIGTERM (blocked in every thread, so only this wait sees them); false if
// `timeout` passed first. A negative timeout waits for ever.
bool wait_signal(const sigset_t& set, std::chrono::milliseconds timeout, int& sig) {
    while (true) {
        if (timeout.count() < 0) {
            if (sigwait(&set, &sig) == 0) return true;
            continue;
        }
        timespec ts{static_cast<std::time_t>(timeout.count() / 1000),
                    static_cast<long>((timeout.count() % 1000) * 1000000)};
        int r = sigtimedwait(&set, nullptr, &ts);
        if (r > 0) {
            sig = r;
            return true;
        }
        if (errno == EAGAIN) return false;
        // EINTR: another signal; wait again.
    }
}

}  // namespace

CLI::App* setup_work(CLI::App& root, work_options& opts) {
    auto* cmd = root.add_subcommand("work", "consume tasks, run handlers, store results");
    cmd->add_option("--prefetch", opts.prefetch, "unacked tasks this worker may hold (work.prefetch)");
    cmd->add_option("--concurrency", opts.concurrency, "handler threads (work.concurrency)");
    cmd->add_option("--amqp", opts.amqp, "broker URL (amqp.url)");
    cmd->add_option("--queue", opts.queue, "task queue name (amqp.queue)");
    cmd->add_option("--store", opts.store, "result store URI (store.uri)");
    return cmd;
}

int run_work(config::settings s, const work_options& opts) {
    log::set_role("work");
    if (opts.prefetch) s.work.prefetch = *opts.prefetch;
    if (opts.concurrency) s.work.concurrency = *opts.concurrency;
    if (opts.amqp) s.amqp.url = *opts.amqp;
    if (opts.queue) s.amqp.queue = *opts.queue;
    if (opts.store) s.store.uri = *opts.store;
    config::validate(s);
    config::apply_password_files(s);

    // Block the stop signals before any thread exists so that every thread inherits the mask
    // and only wait_signal() receives them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    auto url = queue::amqp_url::parse(s.amqp.url);
    std::unique_ptr<store::result_store> store;
    try {
        store = open_configured_store(s);
    } catch (const service_error& e) {
        if (e.retryable()) throw;
        throw config_error(std::string("store: ") + e.what());
    }
    auto registry = make_registry(s);
    warn_consumer_timeout(s);
    auto identity = ops::process_identity();

    queue::topology topo{s.amqp.queue, s.amqp.queue_type};
    queue::publisher_options popts;
    popts.url = url;
    popts.topo = topo;
    popts.connection_name = "pfo3-work-republish " + identity;
    queue::publisher dead_letters(popts);
    dead_letters.start();
    worker::publisher_sink sink(dead_letters);

    // Declared before the engine so that it outlives every delivery guard the engine holds.
    std::unique_ptr<queue::consumer> consumer;
    std::unique_ptr<worker::consumer_settler> settler;
    worker::engine engine(make_engine_options(s, topo, identity), registry, *store, sink);

    std::atomic<bool> ready_sent{false};
    queue::consumer_options copts;
    copts.url = url;
    copts.topo = topo;
    copts.prefetch = static_cast<std::uint16_t>(s.work.prefetch);
    copts.connection_name = "pfo3-work " + identity;
    consumer = std::make_unique<queue::consumer>(
        copts, [&](queue::delivery d) { engine.submit(worker::delivery_guard(std::move(d), *settler)); },
        [&](bool consuming) {
            if (consuming && !ready_sent.exchange(true))
                ops::notify_ready("consuming from " + s.amqp.queue);
            ops::notify_status(consuming ? "consuming from " + s.amqp.queue : "broker connection lost, reconnecting");
        });
    settler = std::make_unique<worker::consumer_settler>(*consumer);
    consumer->start();
    PFO3_LOG(info, "worker started",
             {{"amqp", url.masked()}, {"queue", s.amqp.queue}, {"prefetch", std::to_string(s.work.prefetch)},
              {"concurrency", std::to_string(s.work.concurrency)}, {"store", store->describe()},
              {"config", s.source}});

    int sig = 0;
    wait_signal(stop_signals, std::chrono::milliseconds(-1), sig);
    ops::notify_stopping();
    PFO3_LOG(info, "stopping: finishing the tasks in hand", {{"signal", std::to_string(sig)},
                                                            {"grace_s", std::to_string(s.work.shutdown_grace_s)}});
    consumer->cancel();
    engine.close_intake();

    // Finish in-hand tasks (run and stored) within the grace period; a second signal ends the
    // wait at once.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(s.work.shutdown_grace_s);
    bool finished = false;
    while (!(finished = engine.finish(std::chrono::milliseconds(100)))) {
        if (std::chrono::steady_clock::now() >= deadline) break;
        if (wait_signal(stop_signals, std::chrono::milliseconds(0), sig)) {
            PFO3_LOG(warn, "second signal: stopping now");
            break;
        }
    }
    if (!finished) {
        engine.abandon();
        PFO3_LOG(warn, "tasks still running are abandoned unacked; RabbitMQ will redeliver them");
        consumer->stop();
        dead_letters.stop(std::chrono::milliseconds(0));
        // Handler threads may still hold references into this frame: leave without unwinding.
        std::_Exit(exit_ok);
    }
    consumer->stop();
    dead_letters.stop();
    PFO3_LOG(info, "worker stopped");
    return exit_ok;
}

}  // namespace pfo3::app
