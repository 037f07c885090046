#include "work_command.hpp"

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <memory>

#include "common.hpp"
#include "handler_pool.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/handlers/registry.hpp"
#include "pfo3/ops/notify.hpp"
#include "pfo3/queue/consumer.hpp"
#include "pfo3/queue/publisher.hpp"
#include "pfo3/store/result_store.hpp"
#include "result_committer.hpp"
#include "store_access.hpp"
#include "task_processor.hpp"

namespace pfo3::app {

namespace {

handlers::registry make_registry(const config::settings& s) {
    std::map<std::string, handlers::external_command> ext;
    for (const auto& [name, h] : s.handlers)
        ext[name] = {h.command, std::chrono::milliseconds(static_cast<long long>(h.timeout_s * 1000)), h.env};
    return handlers::registry(std::move(ext));
}

retry_policy make_retry_policy(const config::retry_settings& r) {
    auto ms = [](double seconds) { return std::chrono::milliseconds(std::llround(seconds * 1000)); };
    return {r.max_attempts, backoff_policy{ms(r.backoff_base_s), r.backoff_factor, ms(r.backoff_max_s), r.jitter}};
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
    auto identity = worker_identity();

    queue::topology topo{s.amqp.queue, s.amqp.queue_type};
    queue::publisher_options popts;
    popts.url = url;
    popts.topo = topo;
    popts.connection_name = "pfo3-work-republish " + identity;
    queue::publisher dead_letters(popts);
    dead_letters.start();

    std::atomic<bool> give_up{false};
    std::unique_ptr<queue::consumer> consumer;
    auto ack = [&](const queue::delivery& d) { consumer->ack(d.generation, d.tag); };
    auto requeue = [&](const queue::delivery& d) { consumer->nack(d.generation, d.tag, true); };
    // A group never exceeds what the broker lets this worker hold.
    result_committer committer(*store, static_cast<std::size_t>(s.work.prefetch), ack, requeue);
    task_processor processor({registry, committer, dead_letters, topo, make_retry_policy(s.retry), identity, ack,
                              requeue, give_up});
    handler_pool pool(s.work.concurrency, [&](const queue::delivery& d) { processor.process(d); });

    std::atomic<bool> ready_sent{false};
    queue::consumer_options copts;
    copts.url = url;
    copts.topo = topo;
    copts.prefetch = static_cast<std::uint16_t>(s.work.prefetch);
    copts.connection_name = "pfo3-work " + identity;
    consumer = std::make_unique<queue::consumer>(
        copts,
        [&](queue::delivery d) {
            auto gen = d.generation, tag = d.tag;
            if (!pool.push(std::move(d))) consumer->nack(gen, tag, true);  // stopping
        },
        [&](bool consuming) {
            if (consuming && !ready_sent.exchange(true))
                ops::notify_ready("consuming from " + s.amqp.queue);
            ops::notify_status(consuming ? "consuming from " + s.amqp.queue : "broker connection lost, reconnecting");
        });
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
    auto unstarted = pool.close();
    for (auto& d : unstarted) consumer->nack(d.generation, d.tag, true);

    // Finish in-hand tasks within the grace period; a second signal ends the wait at once.
    auto grace = std::chrono::milliseconds(s.work.shutdown_grace_s * 1000);
    auto deadline = std::chrono::steady_clock::now() + grace;
    bool idle = false;
    while (!(idle = pool.wait_idle(std::chrono::milliseconds(100)))) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        if (wait_signal(stop_signals, std::chrono::milliseconds(0), sig)) {
            PFO3_LOG(warn, "second signal: stopping now");
            break;
        }
    }
    // Handlers are done (or abandoned); what they produced must still become durable.
    if (idle) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (!committer.drain(std::max(left, std::chrono::milliseconds(0)))) idle = false;
    }
    if (!idle) {
        give_up = true;
        committer.give_up();
        PFO3_LOG(warn, "tasks still running are abandoned unacked; RabbitMQ will redeliver them");
        consumer->stop();
        dead_letters.stop(std::chrono::milliseconds(0));
        pool.abandon();
        // Handler threads may still hold references into this frame: leave without unwinding.
        std::_Exit(exit_ok);
    }
    consumer->stop();
    dead_letters.stop();
    PFO3_LOG(info, "worker stopped");
    return exit_ok;
}

}  // namespace pfo3::app
