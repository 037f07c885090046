// The benchmark's sequence: describe the run, check every option, then submit the tasks and
// wait for their results (with the CPU they cost), read memory, measure the broker alone,
// report. Each step is one function below, in that order.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>

#include "figures.hpp"
#include "load.hpp"
#include "pfo3/bench/bench.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/queue/amqp_url.hpp"
#include "pfo3/queue/broker_probe.hpp"
#include "process_use.hpp"
#include "report.hpp"
#include "results.hpp"
#include "sqlite_watch.hpp"
#include "store_watch.hpp"

namespace pfo3::bench {

namespace {

// A watch of the local store `uri` names: inotify on file:///DIR, polling sqlite:///FILE;
// anything else cannot be watched from here. An open-loop run (a latency measurement) polls
// SQLite every 0.5 ms, a closed-loop one every 2 ms: the poll's lateness is error in a
// latency, its CPU (2000 queries a second) is taken from a throughput.
std::unique_ptr<result_watch> watch_store(const std::string& uri, std::chrono::steady_clock::time_point start,
                                          bool open_loop) {
    for (std::string_view scheme : {"file://", "sqlite://"}) {
        if (uri.rfind(scheme, 0) != 0 || uri.size() <= scheme.size() || uri[scheme.size()] != '/') continue;
        std::string path = uri.substr(scheme.size());
        if (scheme == "file://") return std::make_unique<store_watch>(std::move(path), start);
        return std::make_unique<sqlite_watch>(std::move(path), start,
                                              open_loop ? std::chrono::microseconds(500) : std::chrono::microseconds(2000));
    }
    throw config_error("bench: --store " + uri +
                       ": only a local file store (file:///DIR) or SQLite store (sqlite:///FILE) can be watched; "
                       "omit --store to poll status through serve instead");
}

std::string host_name() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return "unknown";
    return host;
}

// The conditions of the run, as the report states them.
bench_report describe(const options& opts) {
    bench_report rep;
    rep.label = opts.label;
    rep.started_at = rfc3339_now();
    rep.host = host_name();
    rep.server = opts.server;
    rep.type = opts.type;
    rep.tasks = opts.tasks;
    rep.connections = opts.connections;
    rep.window = opts.window;
    rep.rate = opts.rate;
    rep.store = opts.store.value_or("");
    rep.results_source = opts.no_results || opts.broker_only ? "none"
                         : !opts.store                         ? "status"
                         : opts.store->rfind("sqlite://", 0) == 0 ? "sqlite poll"
                                                                  : "inotify";
    rep.broker_only = opts.broker_only;
    return rep;
}

// The payload every task carries: --payload as given, or a string of --payload-bytes.
std::string payload_of(const options& opts) {
    std::string payload = opts.payload_json ? *opts.payload_json : json::quote(std::string(opts.payload_bytes, 'x'));
    if (!json::is_valid_json(payload)) throw config_error("bench: --payload is not valid JSON: " + payload);
    return payload;
}

load_options load_of(const options& opts, const std::string& payload) {
    load_options lo;
    lo.server = opts.server;
    lo.token = opts.token;
    lo.tls = opts.tls;
    lo.tasks = opts.tasks;
    lo.connections = opts.connections;
    lo.window = opts.window;
    lo.rate = opts.rate;
    lo.request = "{\"type\":" + json::quote(opts.type) + ",\"payload\":" + payload + "}";
    return lo;
}

// Whose CPU to account for (none unless some pid was given): the tasks' run counts serve, the
// workers, the named processes and the bench; the broker alone only the named processes (the
// broker itself, typically) and the bench.
void choose_cpu_subjects(const options& opts, bench_report& rep) {
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
}

// Waits for the accepted tasks' results and summarises when they were seen.
void await_results(const options& opts, const load_result& load, result_watch* watch, bench_report& rep) {
    PFO3_LOG(info, "bench: waiting for results", {{"accepted", std::to_string(load.ids.size())}});
    const auto timeout = ms_of_seconds(opts.results_timeout_s);
    results_seen seen;
    try {
        seen = watch ? wait_in_store(*watch, load, timeout) : wait_by_status(opts.server, opts.token, opts.tls, load, timeout);
    } catch (const service_error& e) {
        rep.failures.push_back(std::string("waiting for results: ") + e.what());
        seen.stored_ns.assign(load.ids.size(), -1);
    }
    summarize_results(load, seen, watch != nullptr, rep);
}

// Submits the tasks, waits for their results and measures the CPU they cost. Returns false
// (with the reason in `unreachable`) if no connection to the server could be made.
bool submit_tasks(const options& opts, const load_options& lo, bench_report& rep, std::string& unreachable) {
    // Watching starts before the first task is sent, so no result can slip past.
    std::unique_ptr<result_watch> watch;
    if (opts.store && !opts.no_results) watch = watch_store(*opts.store, std::chrono::steady_clock::now(), opts.rate.has_value());
    PFO3_LOG(info, "bench: submitting",
             {{"server", lo.server},
              {"tasks", std::to_string(lo.tasks)},
              {"connections", std::to_string(lo.connections)},
              {"window", std::to_string(lo.window)},
              {"mode", opts.rate ? "open loop" : "closed loop"}});
    cpu_meter cpu(rep.cpu);
    load_result load = run_load(lo);
    if (load.connections_failed == opts.connections) {
        unreachable = "cannot reach server: " + (load.failures.empty() ? lo.server : load.failures.front());
        return false;
    }
    summarize_load(load, rep);
    if (!opts.no_results && !load.ids.empty()) await_results(opts, load, watch.get(), rep);
    // Before the broker alone runs: only the tasks' CPU is wanted.
    rep.cpu_wall_seconds = cpu.finish();
    return true;
}

void read_memory(const options& opts, bench_report& rep) {
    if (opts.serve_pid) rep.memory.push_back(read_process_memory("serve", *opts.serve_pid));
    for (int pid : opts.worker_pids) rep.memory.push_back(read_process_memory("work", pid));
}

// RabbitMQ alone with pfo3's own message body; a failure is reported, not thrown.
void measure_broker(const options& opts, const queue::amqp_url& url, const std::string& payload, bench_report& rep) {
    queue::broker_probe_options po;
    po.url = url;
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

// Prints the table, writes the JSON file if one was asked for, and judges the run.
outcome emit(const options& opts, const bench_report& rep, std::ofstream& json_out, std::ostream& out) {
    print_report(out, rep);
    out.flush();
    if (json_out.is_open()) {
        write_report_json(json_out, rep);
        json_out.close();
        if (!json_out) return {ending::output_failed, "writing " + *opts.json_file + " failed"};
    }
    if (opts.broker_only) return {rep.broker_error.empty() ? ending::complete : ending::incomplete, {}};
    const bool complete = rep.rejected == 0 && rep.missing == 0 && rep.broker_error.empty() && rep.failures.empty();
    return {complete ? ending::complete : ending::incomplete, {}};
}

}  // namespace

outcome run(const options& opts, std::ostream& out) {
    bench_report rep = describe(opts);
    const std::string payload = payload_of(opts);
    rep.payload_bytes = payload.size();
    const load_options lo = load_of(opts, payload);
    rep.request_bytes = lo.request.size() + 1;

    // Fail on a bad output path, an unusable broker URL or a bad pid before spending minutes
    // measuring.
    std::ofstream json_out;
    if (opts.json_file) {
        json_out.open(*opts.json_file, std::ios::trunc);
        if (!json_out) throw config_error("bench: cannot write --json " + *opts.json_file);
    }
    std::optional<queue::amqp_url> broker_url;
    if (opts.broker_ceiling || opts.broker_only) broker_url = queue::amqp_url::parse(opts.amqp_url);
    choose_cpu_subjects(opts, rep);

    if (!opts.broker_only) {
        std::string unreachable;
        if (!submit_tasks(opts, lo, rep, unreachable)) return {ending::unreachable, unreachable};
    }
    read_memory(opts, rep);
    if (broker_url) measure_broker(opts, *broker_url, payload, rep);
    return emit(opts, rep, json_out, out);
}

}  // namespace pfo3::bench
