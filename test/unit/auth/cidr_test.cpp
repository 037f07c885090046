#include <catch2/catch.hpp>

#include "pfo3/auth/cidr.hpp"

using namespace pfo3::auth;

namespace {

cidr net(std::string_view text) {
    std::string why;
    auto c = cidr::parse(text, why);
    INFO(why);
    REQUIRE(c);
    return *c;
}

std::string why_not(std::string_view text) {
    std::string why;
    auto c = cidr::parse(text, why);
    return c ? "parsed" : why;
}

}  // namespace

TEST_CASE("an IPv4 range holds its addresses and no others") {
    const cidr c = net("10.1.0.0/16");
    CHECK(c.contains("10.1.0.0"));
    CHECK(c.contains("10.1.255.7"));
    CHECK_FALSE(c.contains("10.2.0.1"));
    CHECK_FALSE(c.contains("11.1.0.1"));
    CHECK(net("192.168.1.7").contains("192.168.1.7"));
    CHECK_FALSE(net("192.168.1.7").contains("192.168.1.8"));
    CHECK(net("0.0.0.0/0").contains("8.8.8.8"));
    CHECK_FALSE(net("0.0.0.0/0").contains("::1"));  // an IPv4 range never holds IPv6
}

TEST_CASE("host bits of a range are ignored and prefixes cut inside a byte") {
    CHECK(net("10.1.2.3/8").contains("10.200.0.1"));
    const cidr c = net("172.16.0.0/12");
    CHECK(c.contains("172.31.255.255"));
    CHECK_FALSE(c.contains("172.32.0.0"));
    CHECK_FALSE(c.contains("172.15.255.255"));
}

TEST_CASE("an IPv4 client seen as IPv4-mapped IPv6 matches an IPv4 range") {
    CHECK(net("127.0.0.0/8").contains("::ffff:127.0.0.1"));
    CHECK_FALSE(net("127.0.0.0/8").contains("::ffff:10.0.0.1"));
}

TEST_CASE("IPv6 ranges") {
    CHECK(net("::1").contains("::1"));
    CHECK_FALSE(net("::1").contains("::2"));
    const cidr c = net("fd00::/8");
    CHECK(c.contains("fdab:1::9"));
    CHECK_FALSE(c.contains("fe80::1"));
}

TEST_CASE("malformed ranges and addresses are refused") {
    CHECK(why_not("10.0.0.0/33").find("prefix length must be 0 to 32") != std::string::npos);
    CHECK(why_not("::/129").find("0 to 128") != std::string::npos);
    CHECK(why_not("10.0.0.0/").find("prefix length") != std::string::npos);
    CHECK(why_not("10.0.0.0/8x").find("prefix length") != std::string::npos);
    CHECK(why_not("example.com").find("not an IP address") != std::string::npos);
    CHECK(why_not("").find("not an IP address") != std::string::npos);
    CHECK_FALSE(net("10.0.0.0/8").contains("not-an-address"));
}

TEST_CASE("loopback hosts") {
    CHECK(is_loopback_host("127.0.0.1"));
    CHECK(is_loopback_host("127.1.2.3"));
    CHECK(is_loopback_host("localhost"));
    CHECK(is_loopback_host("::1"));
    CHECK(is_loopback_host("[::1]"));
    CHECK_FALSE(is_loopback_host("0.0.0.0"));
    CHECK_FALSE(is_loopback_host("::"));
    CHECK_FALSE(is_loopback_host("10.0.0.5"));
    CHECK_FALSE(is_loopback_host("myhost"));
}
