// amqp.urls, amqp.failover, connect_timeout_ms, heartbeat_s (decision 0013): the list in a file,
// PFO3_AMQP_URLS, `url` as a list of one, and the passwords in them never quoted.
#include <catch2/catch.hpp>

#include <filesystem>

#include "config_test_support.hpp"
#include "pfo3/config/amqp_urls.hpp"
#include "pfo3/config/load.hpp"

using namespace pfo3::config;
using namespace pfo3::config::test;
using Catch::Matchers::Contains;

namespace {

std::string parse_error(std::string_view text) {
    return error_of([&] { parse_settings(text, "pfo3.toml"); });
}

}  // namespace

TEST_CASE("amqp.url is a list of one, amqp.urls lists the nodes in order", "[amqp_urls]") {
    settings d;
    CHECK(broker_urls(d.amqp) == std::vector<std::string>{d.amqp.url});
    CHECK(d.amqp.failover == "round-robin");
    CHECK(d.amqp.connect_timeout_ms == 5000);
    CHECK(d.amqp.heartbeat_s == 30);
    auto s = parse_settings("[amqp]\n"
                            "urls = [\"amqp://u:p@n1:5672/%2f\", \"amqp://u:p@n2:5672/%2f\", \"amqps://u:p@n3/v\"]\n"
                            "failover = \"shuffle\"\nconnect_timeout_ms = 1500\nheartbeat_s = 10\n",
                            "pfo3.toml");
    CHECK(broker_urls(s.amqp) ==
          std::vector<std::string>{"amqp://u:p@n1:5672/%2f", "amqp://u:p@n2:5672/%2f", "amqps://u:p@n3/v"});
    CHECK(s.amqp.failover == "shuffle");
    CHECK(s.amqp.connect_timeout_ms == 1500);
    CHECK(s.amqp.heartbeat_s == 10);
    CHECK_NOTHROW(validate(s));
}

TEST_CASE("bad amqp.urls, failover and timeouts are refused with the line, passwords masked", "[amqp_urls]") {
    CHECK(parse_error("[amqp]\nurls = []\n") == "pfo3.toml:2: amqp.urls: must list at least one broker URL");
    CHECK(parse_error("[amqp]\nurls = [\"amqp://a\", \"redis://u:topsecret@h\"]\n") ==
          "pfo3.toml:2: amqp.urls: element 2 must start with amqp:// or amqps://, got \"redis://u:***@h\"");
    CHECK(parse_error("[amqp]\nurls = \"amqp://a\"\n") ==
          "pfo3.toml:2: amqp.urls: expected an array of strings, got a string");
    CHECK(parse_error("[amqp]\nurl = \"amqp://a\"\nurls = [\"amqp://b\"]\n") ==
          "pfo3.toml:3: amqp.urls: amqp.url is set too: use one (url = \"...\" is the same as urls = [\"...\"])");
    CHECK(parse_error("[amqp]\nfailover = \"random\"\n") ==
          "pfo3.toml:2: amqp.failover: must be \"round-robin\", \"shuffle\" or \"in-order\", got \"random\"");
    CHECK(parse_error("[amqp]\nconnect_timeout_ms = 99\n") ==
          "pfo3.toml:2: amqp.connect_timeout_ms: must be between 100 and 600000, got 99");
    CHECK(parse_error("[amqp]\nheartbeat_s = -1\n") == "pfo3.toml:2: amqp.heartbeat_s: must be between 0 and 3600, got -1");
    std::string many = "[amqp]\nurls = [";
    for (int i = 0; i < 65; ++i) many += "\"amqp://h\",";
    many += "]\n";
    CHECK_THAT(parse_error(many), Contains("must list at most 64 broker URLs, got 65"));
}

TEST_CASE("PFO3_AMQP_URLS is comma-separated and beats the file, PFO3_AMQP_URL replaces a file's list",
          "[amqp_urls][env]") {
    auto s = parse_settings("[amqp]\nurls = [\"amqp://file1\", \"amqp://file2\"]\n", "pfo3.toml");
    auto from_env = s;
    apply_environment(from_env, fake_env({{"PFO3_AMQP_URLS", "amqp://a:1@x, amqp://a:1@y ,amqp://a:1@z"}}));
    CHECK(broker_urls(from_env.amqp) == std::vector<std::string>{"amqp://a:1@x", "amqp://a:1@y", "amqp://a:1@z"});
    auto one = s;
    apply_environment(one, fake_env({{"PFO3_AMQP_URL", "amqp://only"}}));
    CHECK(broker_urls(one.amqp) == std::vector<std::string>{"amqp://only"});
    auto both = s;
    CHECK(error_of([&] {
              apply_environment(both, fake_env({{"PFO3_AMQP_URL", "amqp://a"}, {"PFO3_AMQP_URLS", "amqp://b"}}));
          }) == "PFO3_AMQP_URLS and PFO3_AMQP_URL are both set: set one (a list of one is a URL)");
    auto bad = s;
    CHECK(error_of([&] {
              apply_environment(bad, fake_env({{"PFO3_AMQP_URLS", "amqp://u:hunter2@a,,amqp://b"}}));
          }) == "PFO3_AMQP_URLS: element 2 must start with amqp:// or amqps://, got \"\"");
    auto masked = s;
    const auto e = error_of([&] {
        apply_environment(masked, fake_env({{"PFO3_AMQP_URLS", "amqp://a,http://u:hunter2@b"}}));
    });
    CHECK_THAT(e, Contains("u:***@b"));
    CHECK_THAT(e, !Contains("hunter2"));
}

TEST_CASE("the AMQP password file goes into every broker URL", "[amqp_urls][password_file]") {
    temp_dir dir;
    const auto path = dir.write("amqp", "s3cret\n");
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    settings s;
    s.amqp.urls = {"amqp://pfo3@n1:5672/%2f", "amqp://pfo3@n2:5672/%2f"};
    s.amqp.password_file = path;
    apply_password_files(s);
    CHECK(broker_urls(s.amqp) == std::vector<std::string>{"amqp://pfo3:s3cret@n1:5672/%2f", "amqp://pfo3:s3cret@n2:5672/%2f"});
}
