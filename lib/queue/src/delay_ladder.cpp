#include "delay_ladder.hpp"

#include "queue_arguments.hpp"

namespace pfo3::queue::detail {

namespace {

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
        const auto args = delay_queue_arguments(topo, level, below);
        c.declare_durable(name, argument_table(args).get(), "declare delay queue");
        const std::string waits = delay_binding(level, true), passes = delay_binding(level, false);
        amqp_queue_bind(c.get(), channel, as_bytes(name), as_bytes(name), as_bytes(waits), amqp_empty_table);
        c.check(amqp_get_rpc_reply(c.get()), "bind delay queue '" + name + "'");
        amqp_exchange_bind(c.get(), channel, as_bytes(below), as_bytes(name), as_bytes(passes), amqp_empty_table);
        c.check(amqp_get_rpc_reply(c.get()), "bind exchange '" + below + "' to '" + name + "'");
    }
}

}  // namespace pfo3::queue::detail
