#include "broker_rules.hpp"

namespace pfo3::config::detail {

problem check_consumer_timeout(const settings& s, std::string& key) {
    const double limit = s.amqp.consumer_timeout_s;
    for (const auto& [name, h] : s.handlers) {
        if (h.timeout_s + s.work.shutdown_grace_s < limit) continue;
        key = "handlers." + name + ".timeout_s";
        return format_number(h.timeout_s) + " s plus work.shutdown_grace_s (" +
               std::to_string(s.work.shutdown_grace_s) + " s) reaches amqp.consumer_timeout_s (" +
               std::to_string(s.amqp.consumer_timeout_s) +
               " s): the broker would close the worker's channel under a running task and redeliver it. Lower the "
               "timeout, or raise consumer_timeout in rabbitmq.conf and amqp.consumer_timeout_s with it";
    }
    return std::nullopt;
}

}  // namespace pfo3::config::detail
