// The [auth] section: every key read, and each kind of error with its file, line and key.
#include <catch2/catch.hpp>

#include "config_test_support.hpp"
#include "pfo3/config/load.hpp"

using namespace pfo3::config;
using namespace pfo3::config::test;

namespace {

std::string parse_error(std::string_view text) {
    return error_of([&] { parse_settings(text, "pfo3.toml"); });
}

}  // namespace

TEST_CASE("[auth] keys are read over the defaults") {
    auto s = parse_settings(R"([auth]
mode = "token"
tokens_file = "/etc/pfo3/tokens"
allow_anonymous_network = true
anonymous_from = ["127.0.0.0/8", "::1"]
anonymous_scopes = ["status"]
failure_delay_ms = 0
max_failures = 10
)", "pfo3.toml");
    CHECK(s.auth.mode == "token");
    CHECK(s.auth.tokens_file == "/etc/pfo3/tokens");
    CHECK(s.auth.allow_anonymous_network);
    CHECK(s.auth.anonymous_from == std::vector<std::string>{"127.0.0.0/8", "::1"});
    CHECK(s.auth.anonymous_scopes == std::vector<std::string>{"status"});
    CHECK(s.auth.failure_delay_ms == 0);
    CHECK(s.auth.max_failures == 10);
    CHECK(settings{}.auth.mode == "none");
    CHECK_FALSE(settings{}.auth.allow_anonymous_network);
}

TEST_CASE("[auth] errors name the file, the line and the key") {
    CHECK(parse_error("[auth]\nmode = \"password\"\n") ==
          "pfo3.toml:2: auth.mode: must be \"none\", \"token\", \"mtls\" or \"any\", got \"password\"");
    CHECK(parse_error("[auth]\nmode = \"token\"\n") ==
          "pfo3.toml:1: auth: auth.mode \"token\" needs auth.tokens_file (make one with: pfo3 token new NAME --scopes ...)");
    CHECK(parse_error("[auth]\nallow_anonymous_network = \"yes\"\n") ==
          "pfo3.toml:2: auth.allow_anonymous_network: expected a boolean (true or false)");
    CHECK(parse_error("[auth]\nanonymous_from = [\"10.0.0.0/40\"]\n") ==
          "pfo3.toml:2: auth.anonymous_from: \"10.0.0.0/40\": the prefix length must be 0 to 32");
    CHECK(parse_error("[auth]\nanonymous_from = \"10.0.0.0/8\"\n") ==
          "pfo3.toml:2: auth.anonymous_from: expected an array of strings");
    CHECK(parse_error("[auth]\nanonymous_scopes = [\"root\"]\n") ==
          "pfo3.toml:2: auth.anonymous_scopes: unknown scope \"root\" (expected submit, status, admin or metrics)");
    CHECK(parse_error("[auth]\nmax_failures = 0\n") == "pfo3.toml:2: auth.max_failures: must be between 1 and 100, got 0");
    CHECK(parse_error("[auth]\nmax_failure = 5\n") ==
          "pfo3.toml:2: auth.max_failure: unknown key (did you mean auth.max_failures?)");
}

TEST_CASE("validate() checks [auth] set by code as well") {
    settings s;
    s.auth.mode = "any";
    CHECK(error_of([&] { validate(s); }).find("auth: auth.mode \"any\" needs auth.tokens_file") == 0);
}
