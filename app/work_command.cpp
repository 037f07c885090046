#include "work_command.hpp"

#include "common.hpp"
#include "sight_flags.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/worker/run.hpp"

namespace pfo3::app {

CLI::App* setup_work(CLI::App& root, work_options& opts) {
    auto* cmd = root.add_subcommand("work", "consume tasks, run handlers, store results");
    cmd->add_option("--prefetch", opts.prefetch, "unacked tasks this worker may hold (work.prefetch)");
    cmd->add_option("--concurrency", opts.concurrency, "handler threads (work.concurrency)");
    cmd->add_option("--amqp", opts.amqp, "broker URL (amqp.url)");
    cmd->add_option("--queue", opts.queue, "task queue name (amqp.queue)");
    cmd->add_option("--store", opts.store, "result store URI (store.uri)");
    cmd->add_option("--http-listen", opts.http_listen,
                    "HOST:PORT or HOST:FIRST-LAST of /metrics, /livez, /readyz, or off (http.listen)");
    add_metrics_flag(*cmd, opts.metrics);
    return cmd;
}

int run_work(config::settings s, const work_options& opts) {
    log::set_role("work");
    if (opts.prefetch) s.work.prefetch = *opts.prefetch;
    if (opts.concurrency) s.work.concurrency = *opts.concurrency;
    apply_broker_flags(s, opts.amqp, opts.queue);
    if (opts.store) s.store.uri = *opts.store;
    if (opts.http_listen) s.http.listen = *opts.http_listen;
    if (opts.metrics) s.http.metrics = *opts.metrics;
    config::validate(s);
    config::apply_password_files(s);
    worker::run(s, exit_ok);  // tasks abandoned at the grace's end: redelivered, so still a clean stop
    return exit_ok;
}

}  // namespace pfo3::app
