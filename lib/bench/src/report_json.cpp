// The JSON document of `pfo3 bench` (docs/benchmarks.md lists every field): written by hand,
// field by field, so the key order stays what scripts and the plots have always read.
#include <cmath>
#include <cstdio>

#include "figures.hpp"
#include "pfo3/json/message.hpp"
#include "report.hpp"

namespace pfo3::bench {

namespace {

using json::quote;

// A number, or null for NaN and infinities (which JSON cannot hold).
std::string num(double v, int precision = 6) {
    if (!std::isfinite(v)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    return buf;
}

void json_latency(std::ostream& o, const latency_summary& l) {
    o << "{\"count\":" << l.count << ",\"p50\":" << num(l.p50) << ",\"p90\":" << num(l.p90)
      << ",\"p99\":" << num(l.p99) << ",\"p99_9\":" << num(l.p999) << ",\"max\":" << num(l.max)
      << ",\"mean\":" << num(l.mean) << ",\"cdf\":[";
    for (std::size_t i = 0; i < l.cdf.size(); ++i)
        o << (i ? "," : "") << "[" << num(l.cdf[i].first) << "," << num(l.cdf[i].second) << "]";
    o << "]}";
}

// {"wall_seconds":…,"processes":[…],"total_us_per_<unit>":…,"cores_busy":…}
void json_cpu(std::ostream& o, const std::vector<process_cpu_use>& cpu, double count, double wall,
              const std::string& unit) {
    o << "{\"wall_seconds\":" << num(wall) << ",\"processes\":[";
    for (std::size_t i = 0; i < cpu.size(); ++i) {
        const auto& c = cpu[i];
        const bool known = c.seconds >= 0;
        o << (i ? "," : "") << "{\"role\":" << quote(c.role) << ",\"pid\":" << c.pid
          << ",\"seconds\":" << (known ? num(c.seconds) : "null") << ",\"us_per_" << unit
          << "\":" << (known ? num(c.seconds / count * 1e6) : "null")
          << ",\"error\":" << (c.error.empty() ? "null" : quote(c.error)) << "}";
    }
    const double total = cpu_total_seconds(cpu);
    o << "],\"total_us_per_" << unit << "\":" << num(total / count * 1e6) << ",\"cores_busy\":" << num(ratio(total, wall))
      << "}";
}

// ,"label":…,"started_at":…,"host":…,"config":{…}
void json_conditions(std::ostream& o, const bench_report& r) {
    o << ",\"label\":" << quote(r.label) << ",\"started_at\":" << quote(r.started_at) << ",\"host\":" << quote(r.host);
    o << ",\"config\":{\"server\":" << quote(r.server) << ",\"type\":" << quote(r.type) << ",\"tasks\":" << r.tasks
      << ",\"connections\":" << r.connections << ",\"window\":" << r.window << ",\"payload_bytes\":" << r.payload_bytes
      << ",\"request_bytes\":" << r.request_bytes << ",\"mode\":" << (r.rate ? "\"open\"" : "\"closed\"")
      << ",\"rate\":" << (r.rate ? num(*r.rate) : "null") << ",\"results_source\":" << quote(r.results_source)
      << ",\"store\":" << quote(r.store)
      << ",\"broker_only\":" << (r.broker_only ? "true" : "false") << "}";
}

// ,"accepted":… through "latency_ms":{…}: what submitting and the results measured.
void json_tasks(std::ostream& o, const bench_report& r) {
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
    o << "}";
}

// ,"memory":[…],"cpu":{…}|null
void json_costs(std::ostream& o, const bench_report& r) {
    o << ",\"memory\":[";
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
}

// ,"broker_ceiling":{…},"ratios":{…}, or both null when the broker alone was not measured.
void json_broker(std::ostream& o, const bench_report& r) {
    if (!r.broker) {
        o << ",\"broker_ceiling\":null,\"ratios\":null";
        return;
    }
    const auto& b = *r.broker;
    const double pub = per_second(b.messages, b.publish_seconds), pipe = per_second(b.messages, b.pipeline_seconds);
    o << ",\"broker_ceiling\":{\"queue\":" << quote(b.queue) << ",\"messages\":" << b.messages << ",\"window\":" << r.broker_window
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
}

}  // namespace

void write_report_json(std::ostream& o, const bench_report& r) {
    o << "{\"pfo3_bench\":1";
    json_conditions(o, r);
    json_tasks(o, r);
    json_costs(o, r);
    json_broker(o, r);
    o << ",\"broker_error\":" << (r.broker_error.empty() ? "null" : quote(r.broker_error));
    o << "}\n";
}

}  // namespace pfo3::bench
