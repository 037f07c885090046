// The human table of `pfo3 bench`: what it ran, then accepted / stored / rejected, latency
// percentiles, CPU and memory, then the broker alone and the pfo3/broker ratios.
#include <cmath>
#include <cstdio>

#include "figures.hpp"
#include "report.hpp"

namespace pfo3::bench {

namespace {

std::string fixed(double v, int decimals) {
    if (!std::isfinite(v)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

void table_latency(std::ostream& o, const char* name, const latency_summary& l) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-18s %9s %9s %9s %9s %9s   (%zu samples)\n", name, fixed(l.p50, 3).c_str(),
                  fixed(l.p90, 3).c_str(), fixed(l.p99, 3).c_str(), fixed(l.p999, 3).c_str(), fixed(l.max, 3).c_str(),
                  l.count);
    o << line;
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

// The broker alone at a fixed rate: its throughput and latencies, against pfo3's p99.
void print_broker_open_loop(std::ostream& o, const bench_report& r) {
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
}

// The broker alone as fast as it goes: each phase's throughput, against pfo3's.
void print_broker_closed_loop(std::ostream& o, const bench_report& r) {
    const auto& b = *r.broker;
    const double pub = per_second(b.messages, b.publish_seconds), con = per_second(b.messages, b.consume_seconds),
                 pipe = per_second(b.messages, b.pipeline_seconds);
    o << "  broker alone (" << b.messages << " msgs of " << r.broker_body_bytes << " bytes, window "
      << r.broker_window << ", prefetch " << r.broker_prefetch << ")\n";
    o << "    publish with confirms  " << fixed(pub, 0) << " msgs/s   pfo3 accepted = "
      << fixed(ratio(r.accepted_per_s(), pub), 2) << " x\n";
    o << "    consume + ack          " << fixed(con, 0) << " msgs/s\n";
    o << "    publish + consume      " << fixed(pipe, 0) << " msgs/s   pfo3 end to end = "
      << fixed(ratio(r.end_to_end_per_s(), pipe), 2) << " x\n";
    if (b.nacked || b.returned) o << "    nacked " << b.nacked << ", returned " << b.returned << "\n";
}

}  // namespace

void print_report(std::ostream& o, const bench_report& r) {
    if (r.broker_only) o << "pfo3 bench" << (r.label.empty() ? "" : " [" + r.label + "]") << ": the broker alone\n";
    else print_pfo3(o, r);
    if (r.broker && r.broker->open_loop) print_broker_open_loop(o, r);
    else if (r.broker) print_broker_closed_loop(o, r);
    else if (!r.broker_error.empty()) o << "  broker alone: not measured: " << r.broker_error << "\n";
    if (r.broker && !r.broker_cpu.empty()) {
        o << "    CPU per message carried (published and consumed; the bench is the rabbitmq-c client)\n";
        print_cpu(o, r.broker_cpu, broker_messages_carried(r), r.broker_cpu_wall_seconds, "    ");
    }
    for (const auto& f : r.failures) o << "  failure: " << f << "\n";
}

}  // namespace pfo3::bench
