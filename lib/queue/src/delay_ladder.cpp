#include "delay_ladder.hpp"

namespace pfo3::queue::detail {

namespace {

amqp_table_entry_t text_entry(const char* key, const std::string& v) {
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = as_bytes(v);
    return e;
}

void declare_exchange(connection& c, const std::string& name, const char* type) {
    amqp_exchange_declare(c.get(), channel, as_bytes(name), amqp_cstring_bytes(type), /*passive*/ 0, /*durable*/ 1,
                          /*auto_delete*/ 0, /*internal*/ 0, amqp_empty_table);
    c.check(amqp_get_rpc_reply(c.get()), "declare exchange '" + name + "'");
}

}  // namespace

void declare_delay_levels(connection& c, const topology& topo, int from, int to) {
    c.flush();  // publishes still buffered go first: an RPC must follow them on the socket
    const std::string due = topo.delay_due();
    if (from == 0) {
        declare_exchange(c, due, "fanout");
        amqp_queue_bind(c.get(), channel, as_bytes(topo.queue), as_bytes(due), amqp_empty_bytes, amqp_empty_table);
        c.check(amqp_get_rpc_reply(c.get()), "bind queue '" + topo.queue + "' to '" + due + "'");
    }
    for (int level = from; level < to; ++level) {
        const std::string name = topo.delay_level(level);
        const std::string below = level == 0 ? due : topo.delay_level(level - 1);
        declare_exchange(c, name, "topic");
        // Classic, whatever the task queue is: every message in it has the same TTL, so the head
        // always expires first and nothing waits behind a longer delay.
        const std::string classic = "classic";
        amqp_table_entry_t args[3];
        args[0] = text_entry("x-queue-type", classic);
        args[1] = text_entry("x-dead-letter-exchange", below);
        args[2].key = amqp_cstring_bytes("x-message-ttl");
        args[2].value.kind = AMQP_FIELD_KIND_I64;
        args[2].value.value.i64 = static_cast<std::int64_t>(topo.delay_ttl(level).count());
        c.declare_durable(name, amqp_table_t{static_cast<int>(std::size(args)), args}, "declare delay queue");
        const std::string waits = delay_binding(level, true), passes = delay_binding(level, false);
        amqp_queue_bind(c.get(), channel, as_bytes(name), as_bytes(name), as_bytes(waits), amqp_empty_table);
        c.check(amqp_get_rpc_reply(c.get()), "bind delay queue '" + name + "'");
        amqp_exchange_bind(c.get(), channel, as_bytes(below), as_bytes(name), as_bytes(passes), amqp_empty_table);
        c.check(amqp_get_rpc_reply(c.get()), "bind exchange '" + below + "' to '" + name + "'");
    }
}

}  // namespace pfo3::queue::detail
