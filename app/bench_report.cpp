#include "bench_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

#include "pfo3/json/message.hpp"

namespace pfo3::app {

namespace {

// Nearest-rank percentile of sorted values: the smallest value with at least q of them at
// or below it.
std::int64_t rank(const std::vector<std::int64_t>& sorted, double q) {
    const auto n = sorted.size();
    auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
    i = std::clamp<std::size_t>(i, 1, n);
    return sorted[i - 1];
}

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string num(double v, int precision = 6) {
    if (!std::isfinite(v)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    return buf;
}

std::string fixed(double v, int decimals) {
    if (!std::isfinite(v)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

double per_second(std::size_t n, double seconds) { return seconds > 0 ? static_cast<double>(n) / seconds : NAN; }

void json_latency(std::ostream& o, const latency_summary& l) {
    o << "{\"count\":" << l.count << ",\"p50\":" << num(l.p50) << ",\"p90\":" << num(l.p90)
      << ",\"p99\":" << num(l.p99) << ",\"p99_9\":" << num(l.p999) << ",\"max\":" << num(l.max)
      << ",\"mean\":" << num(l.mean) << ",\"cdf\":[";
    for (std::size_t i = 0; i < l.cdf.size(); ++i)
        o << (i ? "," : "") << "[" << num(l.cdf[i].first) << "," << num(l.cdf[i].second) << "]";
    o << "]}";
}

void table_latency(std::ostream& o, const char* name, const latency_summary& l) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-18s %9s %9s %9s %9s %9s   (%zu samples)\n", name, fixed(l.p50, 3).c_str(),
                  fixed(l.p90, 3).c_str(), fixed(l.p99, 3).c_str(), fixed(l.p999, 3).c_str(), fixed(l.max, 3).c_str(),
                  l.count);
    o << line;
}

// The CPU of every process that could be read, summed.
double cpu_total_seconds(const std::vector<process_cpu_use>& cpu) {
    double total = 0;
    for (const auto& c : cpu)
        if (c.seconds >= 0) total += c.seconds;
    return total;
}

// One line per process: µs per unit of work (`count` of them), then the sum.
void print_cpu(std::ostream& o, const std::vector<process_cpu_use>& cpu, double count, double wall,
               const std::string& indent) {
    for (const auto& c : cpu) {
        char line[256];
        if (c.seconds >= 0)
            std::snprintf(line, sizeof line, "%s  %-10s pid %-8d %9s us  (%s s)\n", indent.c_str(), c.role.c_str(),
                          c.pid, fixed(c.seconds / count * 1e6, 1).c_str(), fixed(c.seconds, 2).c_str());
        else
            std::snprintf(line, sizeof line, "%s  %-10s pid %-8d   unknown (%s)\n", indent.c_str(), c.role.c_str(),
                          c.pid, c.error.c_str());
        o << line;
    }
    const double total = cpu_total_seconds(cpu);
    o << indent << "  total" << std::string(16, ' ') << fixed(total / count * 1e6, 1) << " us = "
      << fixed(ratio(total, wall), 2) << " cores busy on average\n";
}

// {"wall_seconds":…,"processes":[…],"total_us_per_<unit>":…,"cores_busy":…}
void json_cpu(std::ostream& o, const std::vector<process_cpu_use>& cpu, double count, double wall,
              const std::string& unit) {
    o << "{\"wall_seconds\":" << num(wall) << ",\"processes\":[";
    for (std::size_t i = 0; i < cpu.size(); ++i) {
        const auto& c = cpu[i];
        const bool known = c.seconds >= 0;
        o << (i ? "," : "") << "{\"role\":" << json::quote(c.role) << ",\"pid\":" << c.pid
          << ",\"seconds\":" << (known ? num(c.seconds) : "null") << ",\"us_per_" << unit
          << "\":" << (known ? num(c.seconds / count * 1e6) : "null")
          << ",\"error\":" << (c.error.empty() ? "null" : json::quote(c.error)) << "}";
    }
    const double total = cpu_total_seconds(cpu);
    o << "],\"total_us_per_" << unit << "\":" << num(total / count * 1e6) << ",\"cores_busy\":" << num(ratio(total, wall))
      << "}";
}

// Messages the broker alone carried: the closed loop publishes and consumes N twice (the
// separate phases, then both at once), the open loop once.
double broker_messages_carried(const bench_report& r) {
    if (!r.broker) return 0;
    return static_cast<double>(r.broker->messages) * (r.broker->open_loop ? 1 : 2);
}

// The pfo3 part of the table (everything but the broker alone).
void print_pfo3(std::ostream& o, const bench_report& r) {
    const double acc = r.accepted_per_s();
    const double e2e = r.end_to_end_per_s();
    o << "pfo3 bench" << (r.label.empty() ? "" : " [" + r.label + "]") << ": " << r.tasks << " x " << r.type
      << " tasks (" << r.request_bytes << "-byte requests), " << r.connections << " connections, window "
      << r.window << ", " << (r.rate ? "open loop at " + fixed(*r.rate, 0) + " tasks/s" : "closed loop") << ", server "
      << r.server << "\n";
    o << "  accepted            " << r.accepted << " in " << fixed(r.accept_seconds, 3) << " s = " << fixed(acc, 0)
      << " tasks/s\n";
    if (r.results_source != "none")
        o << "  stored (end to end) " << r.stored << " in " << fixed(r.end_to_end_seconds, 3) << " s = "
          << fixed(e2e, 0) << " tasks/s  (seen by " << r.results_source << ")\n";
    o << "  rejected            " << r.rejected;
    for (const auto& [code, n] : r.errors) o << "  " << code << "=" << n;
    o << "\n";
    if (r.missing) o << "  results missing     " << r.missing << "\n";
    o << "  latency (ms)             p50       p90       p99     p99.9       max\n";
    table_latency(o, "submit -> ok", r.submit_to_ok);
    if (r.submit_to_stored) table_latency(o, "submit -> stored", *r.submit_to_stored);
    if (r.late_detection) o << "  (some results were found by scanning: their stored times are upper bounds)\n";
    if (!r.cpu.empty()) {
        o << "  CPU per accepted task (user + system, " << fixed(r.cpu_wall_seconds, 3) << " s from first submit to "
          << (r.results_source == "none" ? "last answer" : "last result") << ")\n";
        print_cpu(o, r.cpu, static_cast<double>(r.accepted), r.cpu_wall_seconds, "  ");
    }
    for (const auto& m : r.memory) {
        if (m.peak_kib >= 0)
            o << "  peak RSS " << m.role << " pid " << m.pid << ": " << fixed(m.peak_kib / 1024.0, 1) << " MiB (now "
              << fixed(m.current_kib / 1024.0, 1) << " MiB)\n";
        else
            o << "  peak RSS " << m.role << " pid " << m.pid << ": unknown (" << m.error << ")\n";
    }
}

}  // namespace

latency_summary summarize_latency(std::vector<std::int64_t> ns) {
    latency_summary s;
    if (ns.empty()) return s;
    std::sort(ns.begin(), ns.end());
    s.count = ns.size();
    s.p50 = ms(rank(ns, 0.50));
    s.p90 = ms(rank(ns, 0.90));
    s.p99 = ms(rank(ns, 0.99));
    s.p999 = ms(rank(ns, 0.999));
    s.max = ms(ns.back());
    s.mean = std::accumulate(ns.begin(), ns.end(), 0.0) / static_cast<double>(ns.size()) / 1e6;
    // Fine steps where a CDF plot on a log scale needs them: the tail.
    std::vector<double> qs;
    for (int i = 0; i <= 100; ++i) qs.push_back(i / 100.0);
    for (double q : {0.995, 0.999, 0.9995, 0.9999}) qs.push_back(q);
    std::sort(qs.begin(), qs.end());
    for (double q : qs) s.cdf.emplace_back(ms(q == 0 ? ns.front() : rank(ns, q)), q);
    return s;
}

process_memory read_process_memory(std::string role, int pid) {
    process_memory m;
    m.role = std::move(role);
    m.pid = pid;
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    if (!in) {
        m.error = "no process " + std::to_string(pid) + " on this machine (or /proc is not readable)";
        return m;
    }
    std::string line;
    while (std::getline(in, line)) {
        auto value = [&](const char* key) -> long {
            std::istringstream s(line.substr(std::string(key).size()));
            long v = -1;
            s >> v;
            return v;
        };
        if (line.rfind("VmHWM:", 0) == 0) m.peak_kib = value("VmHWM:");
        if (line.rfind("VmRSS:", 0) == 0) m.current_kib = value("VmRSS:");
    }
    if (m.peak_kib < 0) m.error = "no VmHWM in /proc/" + std::to_string(pid) + "/status";
    return m;
}

double bench_report::accepted_per_s() const { return per_second(accepted, accept_seconds); }

double bench_report::end_to_end_per_s() const {
    return results_source == "none" ? NAN : per_second(stored, end_to_end_seconds);
}

void print_report(std::ostream& o, const bench_report& r) {
    const double acc = r.accepted_per_s();
    const double e2e = r.end_to_end_per_s();
    if (r.broker_only) o << "pfo3 bench" << (r.label.empty() ? "" : " [" + r.label + "]") << ": the broker alone\n";
    else print_pfo3(o, r);
    if (r.broker && r.broker->open_loop) {
        const auto& b = *r.broker;
        o << "  broker alone, open loop at " << fixed(r.rate.value_or(NAN), 0) << " msgs/s (" << b.messages
          << " msgs of " << r.broker_body_bytes << " bytes, window " << r.broker_window << ", prefetch "
          << r.broker_prefetch << "): " << fixed(per_second(b.messages, b.pipeline_seconds), 0) << " msgs/s\n";
        o << "  latency (ms)             p50       p90       p99     p99.9       max\n";
        if (r.broker_to_confirm) table_latency(o, "publish -> confirm", *r.broker_to_confirm);
        if (r.broker_to_delivered) table_latency(o, "publish -> deliver", *r.broker_to_delivered);
        if (!r.broker_only && r.broker_to_confirm)
            o << "    p99: pfo3 submit -> ok = " << fixed(ratio(r.submit_to_ok.p99, r.broker_to_confirm->p99), 2)
              << " x the broker's publish -> confirm\n";
        if (b.nacked || b.returned) o << "    nacked " << b.nacked << ", returned " << b.returned << "\n";
    } else if (r.broker) {
        const auto& b = *r.broker;
        const double pub = per_second(b.messages, b.publish_seconds), con = per_second(b.messages, b.consume_seconds),
                     pipe = per_second(b.messages, b.pipeline_seconds);
        o << "  broker alone (" << b.messages << " msgs of " << r.broker_body_bytes << " bytes, window "
          << r.broker_window << ", prefetch " << r.broker_prefetch << ")\n";
        o << "    publish with confirms  " << fixed(pub, 0) << " msgs/s   pfo3 accepted = " << fixed(ratio(acc, pub), 2)
          << " x\n";
        o << "    consume + ack          " << fixed(con, 0) << " msgs/s\n";
        o << "    publish + consume      " << fixed(pipe, 0) << " msgs/s   pfo3 end to end = "
          << fixed(ratio(e2e, pipe), 2) << " x\n";
        if (b.nacked || b.returned) o << "    nacked " << b.nacked << ", returned " << b.returned << "\n";
    } else if (!r.broker_error.empty()) {
        o << "  broker alone: not measured: " << r.broker_error << "\n";
    }
    if (r.broker && !r.broker_cpu.empty()) {
        o << "    CPU per message carried (published and consumed; the bench is the rabbitmq-c client)\n";
        print_cpu(o, r.broker_cpu, broker_messages_carried(r), r.broker_cpu_wall_seconds, "    ");
    }
    for (const auto& f : r.failures) o << "  failure: " << f << "\n";
}

void write_report_json(std::ostream& o, const bench_report& r) {
    using json::quote;
    o << "{\"pfo3_bench\":1";
    o << ",\"label\":" << quote(r.label) << ",\"started_at\":" << quote(r.started_at) << ",\"host\":" << quote(r.host);
    o << ",\"config\":{\"server\":" << quote(r.server) << ",\"type\":" << quote(r.type) << ",\"tasks\":" << r.tasks
      << ",\"connections\":" << r.connections << ",\"window\":" << r.window << ",\"payload_bytes\":" << r.payload_bytes
      << ",\"request_bytes\":" << r.request_bytes << ",\"mode\":" << (r.rate ? "\"open\"" : "\"closed\"")
      << ",\"rate\":" << (r.rate ? num(*r.rate) : "null") << ",\"results_source\":" << quote(r.results_source)
      << ",\"store\":" << quote(r.store)
      << ",\"broker_only\":" << (r.broker_only ? "true" : "false") << "}";
    o << ",\"accepted\":" << r.accepted << ",\"rejected\":" << r.rejected << ",\"errors\":{";
    bool first = true;
    for (const auto& [code, n] : r.errors) {
        o << (first ? "" : ",") << quote(code) << ":" << n;
        first = false;
    }
    o << "},\"failures\":[";
    for (std::size_t i = 0; i < r.failures.size(); ++i) o << (i ? "," : "") << quote(r.failures[i]);
    o << "]";
    o << ",\"accept_seconds\":" << num(r.accept_seconds) << ",\"accepted_per_s\":" << num(r.accepted_per_s());
    if (r.results_source == "none") {
        o << ",\"end_to_end\":null";
    } else {
        o << ",\"end_to_end\":{\"stored\":" << r.stored << ",\"missing\":" << r.missing
          << ",\"seconds\":" << num(r.end_to_end_seconds) << ",\"tasks_per_s\":" << num(r.end_to_end_per_s())
          << ",\"late_detection\":" << (r.late_detection ? "true" : "false") << "}";
    }
    o << ",\"latency_ms\":{\"submit_to_ok\":";
    json_latency(o, r.submit_to_ok);
    o << ",\"submit_to_stored\":";
    if (r.submit_to_stored) json_latency(o, *r.submit_to_stored);
    else o << "null";
    o << "},\"memory\":[";
    for (std::size_t i = 0; i < r.memory.size(); ++i) {
        const auto& m = r.memory[i];
        o << (i ? "," : "") << "{\"role\":" << quote(m.role) << ",\"pid\":" << m.pid << ",\"peak_rss_kib\":"
          << (m.peak_kib >= 0 ? std::to_string(m.peak_kib) : "null")
          << ",\"rss_kib\":" << (m.current_kib >= 0 ? std::to_string(m.current_kib) : "null")
          << ",\"error\":" << (m.error.empty() ? "null" : quote(m.error)) << "}";
    }
    o << "]";
    o << ",\"cpu\":";
    if (r.cpu.empty()) o << "null";
    else json_cpu(o, r.cpu, static_cast<double>(r.accepted), r.cpu_wall_seconds, "task");
    if (r.broker) {
        const auto& b = *r.broker;
        const double pub = per_second(b.messages, b.publish_seconds), pipe = per_second(b.messages, b.pipeline_seconds);
        o << ",\"broker_ceiling\":{\"queue\":" << json::quote(b.queue) << ",\"messages\":" << b.messages << ",\"window\":" << r.broker_window
          << ",\"prefetch\":" << r.broker_prefetch << ",\"body_bytes\":" << r.broker_body_bytes
          << ",\"publish_seconds\":" << num(b.publish_seconds) << ",\"consume_seconds\":" << num(b.consume_seconds)
          << ",\"publish_consume_seconds\":" << num(b.pipeline_seconds) << ",\"publish_confirm_per_s\":" << num(pub)
          << ",\"consume_per_s\":" << num(per_second(b.messages, b.consume_seconds))
          << ",\"publish_consume_per_s\":" << num(pipe) << ",\"nacked\":" << b.nacked << ",\"returned\":" << b.returned
          << ",\"open_loop\":" << (b.open_loop ? "true" : "false") << ",\"messages_carried\":"
          << num(broker_messages_carried(r)) << ",\"cpu\":";
        if (r.broker_cpu.empty()) o << "null";
        else json_cpu(o, r.broker_cpu, broker_messages_carried(r), r.broker_cpu_wall_seconds, "message");
        o << ",\"latency_ms\":";
        if (r.broker_to_confirm && r.broker_to_delivered) {
            o << "{\"publish_to_confirm\":";
            json_latency(o, *r.broker_to_confirm);
            o << ",\"publish_to_delivered\":";
            json_latency(o, *r.broker_to_delivered);
            o << "}";
        } else {
            o << "null";
        }
        o << "}";
        o << ",\"ratios\":{\"accepted_vs_publish_confirm\":" << num(ratio(r.accepted_per_s(), pub), 4)
          << ",\"end_to_end_vs_publish_consume\":" << num(ratio(r.end_to_end_per_s(), pipe), 4);
        if (r.broker_to_confirm)
            o << ",\"p99_submit_to_ok_vs_publish_to_confirm\":"
              << num(ratio(r.submit_to_ok.p99, r.broker_to_confirm->p99), 4);
        if (r.broker_to_delivered && r.submit_to_stored)
            o << ",\"p99_submit_to_stored_vs_publish_to_delivered\":"
              << num(ratio(r.submit_to_stored->p99, r.broker_to_delivered->p99), 4);
        o << "}";
    } else {
        o << ",\"broker_ceiling\":null,\"ratios\":null";
    }
    o << ",\"broker_error\":" << (r.broker_error.empty() ? "null" : quote(r.broker_error));
    o << "}\n";
}

}  // namespace pfo3::app
