// `pfo3 bench`: its flags (CLI11), and the configured server and broker handed to lib/bench.
#include "bench_command.hpp"

#include <iostream>

#include "common.hpp"
#include "pfo3/config/load.hpp"

namespace pfo3::app {

CLI::App* setup_bench(CLI::App& root, bench_options& opts) {
    auto* cmd = root.add_subcommand("bench", "measure a pfo3 deployment: throughput, latency, errors, memory");
    cmd->add_option("--server", opts.server, "HOST:PORT of pfo3 serve (send.server)");
    cmd->add_option("--tasks,-n", opts.run.tasks, "tasks to submit over all connections")->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    cmd->add_option("--connections,-c", opts.run.connections, "client connections, one thread each")
        ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{10000}));
    cmd->add_option("--window,-w", opts.run.window, "requests in flight per connection (pipelining)")
        ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    cmd->add_option("--payload-bytes", opts.run.payload_bytes, "payload: a JSON string of this many bytes")
        ->capture_default_str()->check(CLI::Range(std::size_t{0}, std::size_t{16} << 20));
    cmd->add_option("--payload", opts.run.payload_json, "payload as JSON text instead (e.g. 0 for --type sleep)");
    cmd->add_option("--type", opts.run.type, "task type")->capture_default_str();
    cmd->add_option("--rate", opts.run.rate, "open loop: submit at this many tasks/s (default: closed loop, as fast as it goes)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--store", opts.run.store,
                    "file:///DIR or sqlite:///FILE: the workers' store on this machine, watched with inotify "
                    "or polled every 2 ms (default: poll status through serve)");
    cmd->add_flag("--no-results", opts.run.no_results, "do not wait for results (accepted figures only)");
    cmd->add_option("--results-timeout", opts.run.results_timeout_s, "seconds to wait for results after the last submit")
        ->capture_default_str()->check(CLI::Range(0.0, 86400.0));
    cmd->add_option("--serve-pid", opts.run.serve_pid, "pid of a local pfo3 serve: report its peak RSS and CPU per task");
    cmd->add_option("--worker-pids", opts.run.worker_pids, "pids of local pfo3 workers (comma-separated): peak RSS and CPU per task")
        ->delimiter(',');
    cmd->add_option("--cpu-pids", opts.run.cpu_pids,
                    "NAME=PID of other local processes (comma-separated, e.g. rabbitmq=PID,postgres=PID): CPU per "
                    "task, each with the processes it forked (serve and worker pids are measured too)")
        ->delimiter(',');
    cmd->add_option("--json", opts.run.json_file, "also write every figure as JSON to this file");
    cmd->add_option("--label", opts.run.label, "a name for this run, copied into the report");
    cmd->add_flag("--broker-ceiling", opts.run.broker_ceiling,
                  "also measure RabbitMQ alone with the same messages (publish with confirms, consume with acks; "
                  "with --rate: at that rate, with latencies)");
    cmd->add_flag("--broker-only", opts.run.broker_only, "measure RabbitMQ alone; submit nothing to pfo3 (implies --broker-ceiling)");
    cmd->add_option("--amqp", opts.amqp, "broker URL for --broker-ceiling (amqp.url)");
    cmd->add_option("--broker-messages", opts.run.broker_messages, "messages per broker phase (default: --tasks)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    cmd->add_option("--broker-window", opts.run.broker_window, "unconfirmed publishes in flight (default: connections x window)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    cmd->add_option("--broker-prefetch", opts.run.broker_prefetch, "prefetch of the broker-alone consumer")
        ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{65535}));
    add_client_auth_options(cmd, opts.auth);
    return cmd;
}

int run_bench(config::settings s, const bench_options& opts) {
    if (opts.server) s.send.server = *opts.server;
    if (opts.amqp) s.amqp.url = *opts.amqp;
    config::validate(s);
    config::apply_password_files(s);

    bench::options run = opts.run;
    run.server = s.send.server;
    run.amqp_url = s.amqp.url;
    const net::client_options connect = net::client_options_of(opts.auth);
    run.token = connect.token;
    run.tls = connect.tls;
    const auto result = bench::run(run, std::cout);
    switch (result.end) {
        case bench::ending::complete: return exit_ok;
        case bench::ending::incomplete: return exit_rejected;
        case bench::ending::unreachable:
            std::cerr << "error: " << result.error << '\n';
            return exit_unreachable;
        case bench::ending::output_failed:
            std::cerr << "error: " << result.error << '\n';
            return exit_failure;
    }
    return exit_failure;  // not reached: every ending is handled above
}

}  // namespace pfo3::app
