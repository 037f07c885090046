#include "queue_arguments.hpp"

#include "amqp_connection.hpp"

namespace pfo3::queue::detail {

namespace {

bool is_quorum(const topology& topo) { return topo.queue_type == "quorum"; }

// What every quorum queue of pfo3 carries: replicated to group_size nodes, bounded, and
// refusing publishes when full (never dropping the oldest: that would lose accepted tasks).
queue_arguments quorum_base(const topology& topo) {
    return {{"x-queue-type", std::string("quorum")},
            {"x-quorum-initial-group-size", std::int64_t{topo.quorum_group_size}},
            {"x-max-length", topo.max_length},
            {"x-overflow", std::string("reject-publish")}};
}

// Dead-lettering that keeps a message until the target queue confirmed it (quorum only).
void dead_letter_to(queue_arguments& args, const std::string& target) {
    args.push_back({"x-dead-letter-exchange", std::string()});
    args.push_back({"x-dead-letter-routing-key", target});
    args.push_back({"x-dead-letter-strategy", std::string("at-least-once")});
}

}  // namespace

queue_arguments task_queue_arguments(const topology& topo) {
    if (!is_quorum(topo)) {
        // [amqp] max_priority (decision 0012); config refuses it on the teaching queue and on quorum.
        if (topo.max_priority > 0) return {{"x-max-priority", std::int64_t{topo.max_priority}}};
        return {};
    }
    auto args = quorum_base(topo);
    args.push_back({"x-delivery-limit", std::int64_t{topo.delivery_limit}});
    dead_letter_to(args, topo.dead_queue());
    return args;
}

queue_arguments dead_queue_arguments(const topology& topo) {
    if (!is_quorum(topo)) return {};
    return quorum_base(topo);
}

queue_arguments delay_queue_arguments(const topology& topo, int level) {
    const std::string below = level == 0 ? topo.delay_due() : topo.delay_level(level - 1);
    // Every message of a level has the same TTL, so its head always expires first and nothing
    // waits behind a longer delay; quorum queues expire by TTL from RabbitMQ 3.10 on.
    queue_arguments args = is_quorum(topo) ? quorum_base(topo) : queue_arguments{{"x-queue-type", std::string("classic")}};
    args.push_back({"x-dead-letter-exchange", below});
    if (is_quorum(topo)) args.push_back({"x-dead-letter-strategy", std::string("at-least-once")});
    args.push_back({"x-message-ttl", static_cast<std::int64_t>(topo.delay_ttl(level).count())});
    return args;
}

std::string describe(const queue_arguments& args) {
    if (args.empty()) return "(no arguments)";
    std::string out;
    for (const auto& a : args) {
        if (!out.empty()) out += ", ";
        out += a.key;
        out += '=';
        if (const auto* s = std::get_if<std::string>(&a.value)) out += s->empty() ? "\"\"" : *s;
        else out += std::to_string(std::get<std::int64_t>(a.value));
    }
    return out;
}

argument_table::argument_table(const queue_arguments& args) {
    entries_.reserve(args.size());
    for (const auto& a : args) {
        amqp_table_entry_t e{};
        e.key = as_bytes(a.key);
        if (const auto* s = std::get_if<std::string>(&a.value)) {
            e.value.kind = AMQP_FIELD_KIND_UTF8;
            e.value.value.bytes = as_bytes(*s);
        } else {
            e.value.kind = AMQP_FIELD_KIND_I64;
            e.value.value.i64 = std::get<std::int64_t>(a.value);
        }
        entries_.push_back(e);
    }
}

amqp_table_t argument_table::get() const noexcept {
    if (entries_.empty()) return amqp_empty_table;
    return amqp_table_t{static_cast<int>(entries_.size()), const_cast<amqp_table_entry_t*>(entries_.data())};
}

}  // namespace pfo3::queue::detail
