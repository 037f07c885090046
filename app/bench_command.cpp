// The composition root of `pfo3 bench`: builds the request, starts the store watch, runs the
// load, waits for the results, reads memory, measures the broker alone, reports.
#include "bench_command.hpp"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>

#include "bench_load.hpp"
#include "bench_report.hpp"
#include "bench_results.hpp"
#include "bench_store_watch.hpp"
#include "common.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/ops/process_cpu.hpp"
#include "pfo3/queue/amqp_url.hpp"
#include "pfo3/queue/broker_probe.hpp"

namespace pfo3::app {

namespace {

// "file:///var/lib/x" → "/var/lib/x"; anything else cannot be watched from here.
std::string store_dir(const std::string& uri) {
    constexpr std::string_view scheme = "file://";
    if (uri.rfind(scheme, 0) != 0 || uri.size() <= scheme.size() || uri[scheme.size()] != '/')
        throw config_error("bench: --store " + uri +
                           ": only a local file store (file:///DIR) can be watched; omit --store to poll status "
                           "through serve instead");
    return uri.substr(scheme.size());
}

std::string host_name() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return "unknown";
    return host;
}

// Accepted/rejected counts and submit→ok latencies.
void summarize_load(const load_result& load, bench_report& rep) {
    rep.accepted = load.ids.size();
    rep.rejected = load.tasks.size() - load.ids.size();
    rep.errors = load.errors;
    rep.failures = load.failures;
    std::int64_t last_answer = 0;
    std::vector<std::int64_t> ok_latency;
    ok_latency.reserve(load.tasks.size());
    for (const auto& t : load.tasks) {
        last_answer = std::max(last_answer, t.answer_ns);
        if (t.ok) ok_latency.push_back(t.answer_ns - t.submit_ns);
    }
    rep.accept_seconds = static_cast<double>(last_answer) / 1e9;
    rep.submit_to_ok = summarize_latency(std::move(ok_latency));
}

// End-to-end throughput and, when the times are precise (inotify), submit→stored latencies.
void summarize_results(const load_result& load, const results_seen& seen, bool precise, bench_report& rep) {
    std::vector<std::int64_t> stored_latency;
    std::int64_t last_stored = 0;
    for (std::size_t i = 0; i < load.ids.size(); ++i) {
        const auto at = seen.stored_ns[i];
        if (at < 0) {
            ++rep.missing;
            continue;
        }
        ++rep.stored;
        last_stored = std::max(last_stored, at);
        stored_latency.push_back(at - load.id_submit_ns[i]);
    }
    rep.end_to_end_seconds = static_cast<double>(last_stored) / 1e9;
    rep.late_detection = seen.late_detection;
    // Polling status only says when a poll saw the result: not a latency worth printing.
    if (precise) rep.submit_to_stored = summarize_latency(std::move(stored_latency));
}

// --cpu-pids NAME=PID,…: the other local processes (the broker, a database) to account for.
std::vector<process_cpu_use> named_pids(const std::vector<std::string>& specs) {
    std::vector<process_cpu_use> out;
    for (const auto& spec : specs) {
        const auto eq = spec.find('=');
        const std::string name = spec.substr(0, eq);
        const std::string digits = eq == std::string::npos ? "" : spec.substr(eq + 1);
        int pid = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
        const bool name_ok = eq != std::string::npos && !name.empty() && name.size() <= 32 &&
                             name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
        if (!name_ok || ec != std::errc() || end != digits.data() + digits.size() || pid <= 0)
            throw config_error("bench: --cpu-pids '" + spec + "': expected NAME=PID (NAME of a-z 0-9 _ -, PID > 0)");
        out.push_back({name, pid, -1, {}});
    }
    return out;
}

// The CPU the subjects use from its construction to finish().
class cpu_meter {
public:
    explicit cpu_meter(std::vector<process_cpu_use>& subjects)
        : subjects_(subjects), start_(read()), t0_(std::chrono::steady_clock::now()) {}

    /// Sets each subject's seconds (where both readings worked) and returns the wall time.
    double finish() {
        const auto end = read();
        for (std::size_t i = 0; i < subjects_.size(); ++i)
            if (start_[i] >= 0 && end[i] >= 0) subjects_[i].seconds = end[i] - start_[i];
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    }

private:
    // Every subject's CPU seconds now, from one pass over /proc; -1 (and the reason) where it
    // cannot be read.
    std::vector<double> read() {
        std::vector<double> now(subjects_.size(), -1);
        if (subjects_.empty()) return now;
        std::string error;
        const auto table = ops::read_process_table(error);
        for (std::size_t i = 0; i < subjects_.size(); ++i) {
            auto& c = subjects_[i];
            auto s = table ? ops::cpu_seconds_of_tree(*table, c.pid) : std::nullopt;
            if (s) now[i] = *s;
            else if (c.error.empty())
                c.error = table ? "no process " + std::to_string(c.pid) + " on this machine" : error;
        }
        return now;
    }

    std::vector<process_cpu_use>& subjects_;
    std::vector<double> start_;
    std::chrono::steady_clock::time_point t0_;
};

}  // namespace

CLI::App* setup_bench(CLI::App& root, bench_options& opts) {
    auto* cmd = root.add_subcommand("bench", "measure a pfo3 deployment: throughput, latency, errors, memory");
    cmd->add_option("--server", opts.server, "HOST:PORT of pfo3 serve (send.server)");
    cmd->add_option("--tasks,-n", opts.tasks, "tasks to submit over all connections")->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    cmd->add_option("--connections,-c", opts.connections, "client connections, one thread each")
        ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{10000}));
    cmd->add_option("--window,-w", opts.window, "requests in flight per connection (pipelining)")
        ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    cmd->add_option("--payload-bytes", opts.payload_bytes, "payload: a JSON string of this many bytes")
        ->capture_default_str()->check(CLI::Range(std::size_t{0}, std::size_t{16} << 20));
    cmd->add_option("--payload", opts.payload_json, "payload as JSON text instead (e.g. 0 for --type sleep)");
    cmd->add_option("--type", opts.type, "task type")->capture_default_str();
    cmd->add_option("--rate", opts.rate, "open loop: submit at this many tasks/s (default: closed loop, as fast as it goes)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--store", opts.store,
                    "file:///DIR: the workers' result directory on this machine, watched with inotify "
                    "(default: poll status through serve)");
    cmd->add_flag("--no-results", opts.no_results, "do not wait for results (accepted figures only)");
    cmd->add_option("--results-timeout", opts.results_timeout_s, "seconds to wait for results after the last submit")
        ->capture_default_str()->check(CLI::Range(0.0, 86400.0));
    cmd->add_option("--serve-pid", opts.serve_pid, "pid of a local pfo3 serve: report its peak RSS and CPU per task");
    cmd->add_option("--worker-pids", opts.worker_pids, "pids of local pfo3 workers (comma-separated): peak RSS and CPU per task")
        ->delimiter(',');
    cmd->add_option("--cpu-pids", opts.cpu_pids,
                    "NAME=PID of other local processes (comma-separated, e.g. rabbitmq=PID,postgres=PID): CPU per "
                    "task, each with the processes it forked (serve and worker pids are measured too)")
        ->delimiter(',');
    cmd->add_option("--json", opts.json_file, "also write every figure as JSON to this file");
    cmd->add_option("--label", opts.label, "a name for this run, copied into the report");
    cmd->add_flag("--broker-ceiling", opts.broker_ceiling,
                  "also measure RabbitMQ alone with the same messages (publish with confirms, consume with acks; "
                  "with --rate: at that rate, with latencies)");
    cmd->add_flag("--broker-only", opts.broker_only, "measure RabbitMQ alone; submit nothing to pfo3 (implies --broker-ceiling)");
    cmd->add_option("--amqp", opts.amqp, "broker URL for --broker-ceiling (amqp.url)");
    cmd->add_option("--broker-messages", opts.broker_messages, "messages per broker phase (default: --tasks)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    cmd->add_option("--broker-window", opts.broker_window, "unconfirmed publishes in flight (default: connections x window)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    cmd->add_option("--broker-prefetch", opts.broker_prefetch, "prefetch of the broker-alone consumer")
        ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{65535}));
    return cmd;
}

int run_bench(config::settings s, const bench_options& opts) {
    if (opts.server) s.send.server = *opts.server;
    if (opts.amqp) s.amqp.url = *opts.amqp;
    config::validate(s);
    config::apply_password_files(s);

    bench_report rep;
    rep.label = opts.label;
    rep.started_at = rfc3339_now();
    rep.host = host_name();
    rep.server = s.send.server;
    rep.type = opts.type;
    rep.tasks = opts.tasks;
    rep.connections = opts.connections;
    rep.window = opts.window;
    rep.rate = opts.rate;
    rep.store = opts.store.value_or("");
    rep.results_source = opts.no_results || opts.broker_only ? "none" : opts.store ? "inotify" : "status";
    rep.broker_only = opts.broker_only;

    const std::string payload = opts.payload_json ? *opts.payload_json : json::quote(std::string(opts.payload_bytes, 'x'));
    if (!json::is_valid_json(payload)) throw config_error("bench: --payload is not valid JSON: " + payload);
    rep.payload_bytes = payload.size();

    load_options lo;
    lo.server = s.send.server;
    lo.tasks = opts.tasks;
    lo.connections = opts.connections;
    lo.window = opts.window;
    lo.rate = opts.rate;
    lo.request = "{\"type\":" + json::quote(opts.type) + ",\"payload\":" + payload + "}";
    rep.request_bytes = lo.request.size() + 1;

    // Fail on a bad output path or an unusable broker URL before spending minutes measuring.
    std::ofstream json_out;
    if (opts.json_file) {
        json_out.open(*opts.json_file, std::ios::trunc);
        if (!json_out) throw config_error("bench: cannot write --json " + *opts.json_file);
    }
    std::optional<queue::amqp_url> broker_url;
    if (opts.broker_ceiling || opts.broker_only) broker_url = queue::amqp_url::parse(s.amqp.url);

    // Whose CPU to account for (none unless some pid was given), checked before anything
    // runs: the tasks' run counts serve, the workers, the named processes and the bench; the
    // broker alone only the named processes (the broker itself, typically) and the bench.
    const auto named = named_pids(opts.cpu_pids);
    const process_cpu_use self{"bench", static_cast<int>(::getpid()), -1, {}};
    if (!opts.broker_only && (opts.serve_pid || !opts.worker_pids.empty() || !named.empty())) {
        if (opts.serve_pid) rep.cpu.push_back({"serve", *opts.serve_pid, -1, {}});
        for (int pid : opts.worker_pids) rep.cpu.push_back({"work", pid, -1, {}});
        rep.cpu.insert(rep.cpu.end(), named.begin(), named.end());
        rep.cpu.push_back(self);
    }
    if (!named.empty()) {
        rep.broker_cpu = named;
        rep.broker_cpu.push_back(self);
    }
    std::unique_ptr<store_watch> watch;
    if (opts.store && !opts.no_results && !opts.broker_only)
        watch = std::make_unique<store_watch>(store_dir(*opts.store), std::chrono::steady_clock::now());

    if (!opts.broker_only) {
        PFO3_LOG(info, "bench: submitting",
                 {{"server", lo.server},
                  {"tasks", std::to_string(lo.tasks)},
                  {"connections", std::to_string(lo.connections)},
                  {"window", std::to_string(lo.window)},
                  {"mode", opts.rate ? "open loop" : "closed loop"}});
        cpu_meter cpu(rep.cpu);
        load_result load = run_load(lo);
        if (load.connections_failed == opts.connections) {
            std::cerr << "error: cannot reach server: " << (load.failures.empty() ? lo.server : load.failures.front())
                      << '\n';
            return exit_unreachable;
        }
        summarize_load(load, rep);
        if (!opts.no_results && !load.ids.empty()) {
            PFO3_LOG(info, "bench: waiting for results", {{"accepted", std::to_string(load.ids.size())}});
            const auto timeout = std::chrono::milliseconds(static_cast<long long>(opts.results_timeout_s * 1000));
            results_seen seen;
            try {
                seen = watch ? wait_in_store(*watch, load, timeout) : wait_by_status(lo.server, load, timeout);
            } catch (const service_error& e) {
                rep.failures.push_back(std::string("waiting for results: ") + e.what());
                seen.stored_ns.assign(load.ids.size(), -1);
            }
            summarize_results(load, seen, watch != nullptr, rep);
        }
        // Before the broker alone runs: only the tasks' CPU is wanted.
        rep.cpu_wall_seconds = cpu.finish();
        watch.reset();
    }

    if (opts.serve_pid) rep.memory.push_back(read_process_memory("serve", *opts.serve_pid));
    for (int pid : opts.worker_pids) rep.memory.push_back(read_process_memory("work", pid));

    if (broker_url) {
        queue::broker_probe_options po;
        po.url = *broker_url;
        po.messages = opts.broker_messages.value_or(opts.tasks);
        // As many unconfirmed as pfo3 had requests in flight, unless told otherwise.
        po.window = opts.broker_window.value_or(opts.connections * opts.window);
        po.prefetch = static_cast<std::uint16_t>(opts.broker_prefetch);
        po.type = opts.type;
        po.rate = opts.rate;  // an open-loop run is compared with the broker at the same rate
        task t;
        t.id = make_task_id();
        t.type = opts.type;
        t.payload_json = payload;
        t.submitted_at = rfc3339_now();
        po.body = json::encode_message(t);
        rep.broker_window = po.window;
        rep.broker_prefetch = po.prefetch;
        rep.broker_body_bytes = po.body.size();
        PFO3_LOG(info, "bench: measuring the broker alone",
                 {{"url", po.url.masked()}, {"messages", std::to_string(po.messages)}});
        try {
            cpu_meter cpu(rep.broker_cpu);
            rep.broker = queue::measure_broker_ceiling(po);
            rep.broker_cpu_wall_seconds = cpu.finish();
            if (rep.broker->open_loop) {
                rep.broker_to_confirm = summarize_latency(std::move(rep.broker->confirm_ns));
                rep.broker_to_delivered = summarize_latency(std::move(rep.broker->deliver_ns));
            }
        } catch (const service_error& e) {
            rep.broker_error = e.what();
        }
    }

    print_report(std::cout, rep);
    std::cout.flush();
    if (json_out.is_open()) {
        write_report_json(json_out, rep);
        json_out.close();
        if (!json_out) {
            std::cerr << "error: writing " << *opts.json_file << " failed\n";
            return exit_failure;
        }
    }
    if (opts.broker_only) return rep.broker_error.empty() ? exit_ok : exit_rejected;
    const bool complete = rep.rejected == 0 && rep.missing == 0 && rep.broker_error.empty() && rep.failures.empty();
    return complete ? exit_ok : exit_rejected;
}

}  // namespace pfo3::app
