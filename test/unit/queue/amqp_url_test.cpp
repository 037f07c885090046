#include <catch2/catch.hpp>

#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pfo3/queue/amqp_url.hpp"

using pfo3::config_error;
using pfo3::queue::amqp_url;

TEST_CASE("a full AMQP URL is split and percent-decoded", "[amqp_url]") {
    auto u = amqp_url::parse("amqp://us%40er:p%3Ass@broker.example:5673/my%2fvhost");
    CHECK(u.user == "us@er");
    CHECK(u.password == "p:ss");
    CHECK(u.host == "broker.example");
    CHECK(u.port == 5673);
    CHECK(u.vhost == "my/vhost");
    CHECK_FALSE(u.tls);
}

TEST_CASE("the default URL of the config names the default vhost", "[amqp_url]") {
    auto u = amqp_url::parse("amqp://guest:guest@127.0.0.1:5672/%2f");
    CHECK(u.vhost == "/");
    CHECK(u.port == 5672);
    CHECK(u.host == "127.0.0.1");
}

TEST_CASE("missing parts take the documented defaults", "[amqp_url]") {
    auto u = amqp_url::parse("amqp://rabbit");
    CHECK(u.host == "rabbit");
    CHECK(u.port == 5672);
    CHECK(u.user == "guest");
    CHECK(u.password == "guest");
    CHECK(u.vhost == "/");
    // An empty path also means "/" (the URI spec would say "", which no install has).
    CHECK(amqp_url::parse("amqp://rabbit/").vhost == "/");
    CHECK(amqp_url::parse("amqp://").host == "127.0.0.1");
    auto user_only = amqp_url::parse("amqp://bob@h");
    CHECK(user_only.user == "bob");
    CHECK(user_only.password.empty());
}

TEST_CASE("amqps switches on TLS and its default port", "[amqp_url]") {
    auto u = amqp_url::parse("AMQPS://h");
    CHECK(u.tls);
    CHECK(u.port == 5671);
    CHECK(amqp_url::parse("amqps://h:6000").port == 6000);
}

TEST_CASE("IPv6 literals are written in brackets", "[amqp_url]") {
    auto u = amqp_url::parse("amqp://u:p@[::1]:5700/v");
    CHECK(u.host == "::1");
    CHECK(u.port == 5700);
    CHECK(u.vhost == "v");
    CHECK(amqp_url::parse("amqp://[fe80::1]").port == 5672);
    CHECK(u.masked() == "amqp://u:***@[::1]:5700/v");
}

TEST_CASE("masked() hides the password and re-encodes the vhost", "[amqp_url]") {
    auto u = amqp_url::parse("amqp://guest:s3cret@127.0.0.1:5672/%2f");
    CHECK(u.masked() == "amqp://guest:***@127.0.0.1:5672/%2f");
    CHECK(u.masked().find("s3cret") == std::string::npos);
}

TEST_CASE("bad URLs are config errors that never show the password", "[amqp_url]") {
    const char* bad[] = {
        "http://u:topsecret@h/",          // scheme
        "amqp://u:topsecret@h:0/",        // port 0
        "amqp://u:topsecret@h:70000/",    // port too large
        "amqp://u:topsecret@h:12ab/",     // port not a number
        "amqp://u:topsecret@h:/",         // empty port
        "amqp://u:topsecret@h/a/b",       // raw slash in vhost
        "amqp://u:topsecret@h/%zz",       // bad escape
        "amqp://u:topsecret@h/%2",        // truncated escape
        "amqp://u:topsecret@[::1/",       // unterminated bracket
        "amqp://u:topsecret@[::1]x/",     // junk after bracket
        "amqp://u:topsecret@h/?heartbeat=5",  // query
        "amqp://:topsecret@h/",           // empty user
    };
    for (const char* url : bad) {
        INFO(url);
        try {
            amqp_url::parse(url);
            FAIL("accepted");
        } catch (const config_error& e) {
            std::string what = e.what();
            CHECK(what.find("topsecret") == std::string::npos);
            CHECK(what.find("AMQP URL") != std::string::npos);
        }
    }
}

namespace {

// The ways a user writes a password holding `c`: as is, and percent-encoded (either case).
std::vector<std::string> written_forms(char c) {
    char encoded[4];
    std::snprintf(encoded, sizeof encoded, "%%%02X", static_cast<unsigned char>(c));
    std::string lower = encoded;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return {std::string("Secr") + c + "et9", std::string("Secr") + encoded + "et9",
            std::string("Secr") + lower + "et9"};
}

// Neither half of the password may show: a mask that stops at the special character would
// still leak the rest.
void check_hidden(const std::string& text) {
    CHECK(text.find("Secr") == std::string::npos);
    CHECK(text.find("et9") == std::string::npos);
}

}  // namespace

TEST_CASE("passwords with / ? # @, raw or percent-encoded, parse and never show masked", "[amqp_url]") {
    for (char c : {'/', '?', '#', '@'}) {
        for (const auto& form : written_forms(c)) {
            const std::string url = "amqp://pfo3:" + form + "@broker.example:5673/v1";
            INFO(url);
            auto u = amqp_url::parse(url);
            CHECK(u.user == "pfo3");
            CHECK(u.password == std::string("Secr") + c + "et9");
            CHECK(u.host == "broker.example");
            CHECK(u.port == 5673);
            CHECK(u.vhost == "v1");
            CHECK(u.masked() == "amqp://pfo3:***@broker.example:5673/v1");
            check_hidden(u.masked());
        }
    }
}

TEST_CASE("a bad URL whose password holds / ? # @ is an error that never shows it", "[amqp_url]") {
    for (char c : {'/', '?', '#', '@'}) {
        for (const auto& form : written_forms(c)) {
            for (const std::string& url : {"amqp://pfo3:" + form + "@h:0/v", "amqp://pfo3:" + form + "@h/a/b",
                                           "amqp://pfo3:" + form + "@h:99999", "http://pfo3:" + form + "@h/v"}) {
                INFO(url);
                try {
                    amqp_url::parse(url);
                    FAIL("accepted");
                } catch (const config_error& e) {
                    check_hidden(e.what());
                }
            }
        }
    }
}
