// The bounded kinds of a lost broker connection (connection_stats.hpp), from the texts the
// queue module gives the errors that end a connection.
#include <catch2/catch.hpp>

#include "pfo3/queue/connection_stats.hpp"

using pfo3::queue::loss_kind;

TEST_CASE("each way a connection ends has its kind, anything else is other", "[loss_kind]") {
    CHECK(std::string(loss_kind("consume on amqp://g:***@h:5672/%2f: no heartbeat from the broker for 20 s")) ==
          "heartbeat_timeout");
    CHECK(std::string(loss_kind("publish on h:1: connection closed by the broker: 320 CONNECTION_FORCED - x")) ==
          "closed_by_broker");
    CHECK(std::string(loss_kind("consume on h:1: channel closed by the broker: 406 PRECONDITION_FAILED")) ==
          "channel_closed");
    CHECK(std::string(loss_kind("publish on h:1: the broker nacked 120 publishes in a row and acked none (...)")) ==
          "nacks_only");
    CHECK(std::string(loss_kind("asked to consume again (the consuming watchdog saw a backlog but no delivery)")) ==
          "consume_watchdog");
    CHECK(std::string(loss_kind("consume on h:1: the broker cancelled the consumer of 'q'")) == "consumer_cancelled");
    CHECK(std::string(loss_kind("publish on h:1: socket closed unexpectedly (rabbitmq-c status -7)")) == "socket_error");
    CHECK(std::string(loss_kind("publish on h:1: write to the broker failed: Broken pipe")) == "socket_error");
    CHECK(std::string(loss_kind("something new")) == "other");
}

TEST_CASE("the note keeps the node in use and the last loss", "[loss_kind]") {
    pfo3::queue::connection_stats s;
    CHECK(s.note().node == 0);
    s.connected_to("amqp://u:***@b:5672/%2f", 2, 3);
    s.lost_with("p: no heartbeat from the broker for 20 s", 1765000000);
    const auto n = s.note();
    CHECK(n.url == "amqp://u:***@b:5672/%2f");
    CHECK(n.node == 2);
    CHECK(n.nodes == 3);
    CHECK(n.last_loss_kind == "heartbeat_timeout");
    CHECK(n.last_loss_at == 1765000000);
}
