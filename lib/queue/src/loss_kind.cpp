// The kinds of lost connections, from the texts amqp_connection.cpp, publisher.cpp and
// consumer.cpp give the errors that end a connection (a bounded label for metrics; /readyz
// shows the text itself).
#include <string_view>

#include "pfo3/queue/connection_stats.hpp"

namespace pfo3::queue {

const char* loss_kind(std::string_view error) noexcept {
    struct rule {
        std::string_view needle;
        const char* kind;
    };
    static constexpr rule rules[] = {
        {"no heartbeat", "heartbeat_timeout"},
        {"connection closed by the broker", "closed_by_broker"},
        {"channel closed by the broker", "channel_closed"},
        {"acked none", "nacks_only"},
        {"consume again", "consume_watchdog"},
        {"cancelled the consumer", "consumer_cancelled"},
        {"rabbitmq-c status", "socket_error"},
        {"write to the broker failed", "socket_error"},
        {"took no data", "socket_error"},
        {"poll failed", "socket_error"},
    };
    for (const auto& r : rules)
        if (error.find(r.needle) != std::string_view::npos) return r.kind;
    return "other";
}

}  // namespace pfo3::queue
