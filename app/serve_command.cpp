#include "serve_command.hpp"

#include "common.hpp"
#include "sight_flags.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/serve/run.hpp"

namespace pfo3::app {

CLI::App* setup_serve(CLI::App& root, serve_options& opts) {
    auto* cmd = root.add_subcommand("serve", "accept tasks over TCP and publish them to RabbitMQ");
    cmd->add_option("--listen", opts.listen, "HOST:PORT to listen on (serve.listen)");
    cmd->add_option("--amqp", opts.amqp, "broker URL (amqp.url)");
    cmd->add_option("--queue", opts.queue, "task queue name (amqp.queue)");
    cmd->add_option("--http-listen", opts.http_listen, "HOST:PORT of /metrics, /livez, /readyz, or off (http.listen)");
    add_metrics_flag(*cmd, opts.metrics);
    return cmd;
}

int run_serve(config::settings s, const serve_options& opts) {
    log::set_role("serve");
    if (opts.listen) s.serve.listen = *opts.listen;
    apply_broker_flags(s, opts.amqp, opts.queue);
    if (opts.http_listen) s.http.listen = *opts.http_listen;
    if (opts.metrics) s.http.metrics = *opts.metrics;
    config::validate(s);
    config::apply_password_files(s);
    serve::run(s);
    return exit_ok;
}

}  // namespace pfo3::app
