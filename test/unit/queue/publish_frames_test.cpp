// pfo3's basic.publish frames must be byte for byte what rabbitmq-c's amqp_basic_publish
// sends: the publisher mixes both on one socket. rabbitmq-c writes into one end of a
// socketpair, and its bytes are read back from the other.
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "publish_frames.hpp"

namespace {

amqp_bytes_t bytes_of(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

// What amqp_basic_publish writes for this message, and the frame_max it used.
std::string rabbitmq_c_bytes(const amqp_basic_properties_t& p, const std::string& key, const std::string& body,
                             std::size_t& frame_max) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    // Large enough for the biggest body below: amqp_basic_publish writes before we read.
    int big = 4 << 20;
    ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    ::setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    amqp_connection_state_t st = amqp_new_connection();
    amqp_socket_t* sock = amqp_tcp_socket_new(st);
    amqp_tcp_socket_set_sockfd(sock, sv[0]);
    frame_max = static_cast<std::size_t>(amqp_get_frame_max(st));
    int rc = amqp_basic_publish(st, 1, amqp_empty_bytes, bytes_of(key), 1, 0, &p, bytes_of(body));
    ::shutdown(sv[0], SHUT_WR);
    std::string got;
    char buf[65536];
    for (ssize_t n; (n = ::read(sv[1], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    amqp_destroy_connection(st);  // closes sv[0]
    ::close(sv[1]);
    REQUIRE(rc == AMQP_STATUS_OK);
    return got;
}

amqp_basic_properties_t pfo3_properties(const std::string& id, const std::string& type, const std::string& expiration) {
    static const std::string json = "application/json";
    amqp_basic_properties_t p{};
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
               AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG;
    p.content_type = bytes_of(json);
    p.delivery_mode = 2;
    p.message_id = bytes_of(id);
    p.type = bytes_of(type);
    p.timestamp = 1764000000;
    if (!expiration.empty()) {
        p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        p.expiration = bytes_of(expiration);
    }
    return p;
}

}  // namespace

TEST_CASE("publish frames equal rabbitmq-c's for small, empty and multi-frame bodies", "[publish_frames]") {
    const std::string id = "0a1b2c3d-task", type = "echo", key = "tareas";
    auto body = GENERATE(std::string(), std::string(R"({"id":"x","payload":"hi"})"), std::string(300000, 'b'));
    auto expiration = GENERATE(std::string(), std::string("4000"));
    auto p = pfo3_properties(id, type, expiration);
    std::size_t frame_max = 0;
    const std::string expected = rabbitmq_c_bytes(p, key, body, frame_max);
    std::string ours = "prefix";  // appends, never overwrites
    pfo3::queue::detail::append_publish(ours, 1, amqp_empty_bytes, bytes_of(key), true, p, body, frame_max);
    REQUIRE(ours.substr(0, 6) == "prefix");
    CHECK(ours.substr(6) == expected);
}

TEST_CASE("a routing key too long for a short string is refused, and the buffer is unchanged", "[publish_frames]") {
    auto p = pfo3_properties("id", "echo", "");
    const std::string key(300, 'k');
    std::string out = "kept";
    CHECK_THROWS(pfo3::queue::detail::append_publish(out, 1, amqp_empty_bytes, bytes_of(key), true, p, "body", 131072));
    CHECK(out == "kept");
}

TEST_CASE("a property too long for a short string is cut at a UTF-8 boundary, never refused", "[publish_frames]") {
    // 'é' is two bytes and U+1F600 four: 255 falls inside a character in both.
    std::string two_byte, four_byte = "a";
    for (int i = 0; i < 150; ++i) two_byte += "\xc3\xa9";
    for (int i = 0; i < 100; ++i) four_byte += "\xf0\x9f\x98\x80";
    const std::string key = "tareas", body = R"({"id":"x1","payload":1})";
    struct example {
        std::string id, type, cut_id, cut_type;
    };
    for (const auto& e : {example{"x1", two_byte, "x1", two_byte.substr(0, 254)},
                          example{std::string(300, 'i'), four_byte, std::string(255, 'i'), four_byte.substr(0, 253)}}) {
        auto p = pfo3_properties(e.id, e.type, "");
        std::string ours;
        std::size_t frame_max = 0;
        const std::string expected = rabbitmq_c_bytes(pfo3_properties(e.cut_id, e.cut_type, ""), key, body, frame_max);
        REQUIRE_NOTHROW(pfo3::queue::detail::append_publish(ours, 1, amqp_empty_bytes, bytes_of(key), true, p, body,
                                                            frame_max));
        CHECK(ours == expected);
        // The body is not touched: it keeps the full value.
        CHECK(ours.find(body) != std::string::npos);
    }
}

TEST_CASE("fit_short_strings makes properties rabbitmq-c's own publish can encode", "[publish_frames]") {
    const std::string long_type(256, 't'), key = "tareas", body = "{}", id = "id-1";
    auto p = pfo3_properties(id, long_type, "");
    // rabbitmq-c alone refuses a 256-byte type; the publisher fits properties first on its TLS path.
    pfo3::queue::detail::fit_short_strings(p);
    CHECK(p.type.len == 255);
    CHECK((p._flags & AMQP_BASIC_TYPE_FLAG) != 0);
    std::size_t frame_max = 0;
    CHECK(rabbitmq_c_bytes(p, key, body, frame_max) ==
          rabbitmq_c_bytes(pfo3_properties(id, long_type.substr(0, 255), ""), key, body, frame_max));

    // Nothing but continuation bytes in reach: the property is left out, not sent broken.
    const std::string broken(300, '\x80'), id2 = "id-2";
    auto q = pfo3_properties(id2, broken, "");
    pfo3::queue::detail::fit_short_strings(q);
    CHECK((q._flags & AMQP_BASIC_TYPE_FLAG) == 0);
    CHECK(q.message_id.len == 4);
}

TEST_CASE("messages appended one after another are each rabbitmq-c's bytes, back to back", "[publish_frames]") {
    // The publisher batches many messages into one buffer: each append must add exactly one
    // message's frames, whatever the buffer held and however much room it had.
    const std::string key = "tareas", type = "echo", expiration = "1500", none;
    std::string ours, expected;
    for (int i = 0; i < 50; ++i) {
        // The properties point into these strings: they must outlive p.
        const std::string id = "task-" + std::to_string(i), body(static_cast<std::size_t>(i * 997 % 5000), 'x');
        auto p = pfo3_properties(id, type, i % 3 == 0 ? expiration : none);
        std::size_t frame_max = 0;
        expected += rabbitmq_c_bytes(p, key, body, frame_max);
        pfo3::queue::detail::append_publish(ours, 1, amqp_empty_bytes, bytes_of(key), true, p, body, frame_max);
        REQUIRE(ours.size() == expected.size());
    }
    CHECK(ours == expected);
}
