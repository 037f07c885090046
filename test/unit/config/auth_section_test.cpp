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

TEST_CASE("[serve.tls] and [auth.clients] are read, and their rules name the key") {
    auto s = parse_settings(R"([serve.tls]
mode = "required"
cert_file = "/c.pem"
key_file = "/k.pem"
min_version = "1.3"
handshake_timeout_ms = 500
client_ca_file = "/ca.pem"
client_cert = "optional"
[auth.clients]
"CN=svc-client" = ["submit", "status"]
)", "pfo3.toml");
    CHECK(s.serve.tls.mode == "required");
    CHECK(s.serve.tls.min_version == "1.3");
    CHECK(s.serve.tls.handshake_timeout_ms == 500);
    CHECK(s.serve.tls.client_cert == "optional");
    CHECK(s.auth.clients.at("CN=svc-client") == std::vector<std::string>{"submit", "status"});
    CHECK(parse_error("[serve.tls]\nmode = \"on\"\n") ==
          "pfo3.toml:2: serve.tls.mode: must be one of \"off\", \"optional\", \"required\", got \"on\"");
    CHECK(parse_error("[serve.tls]\nmode = \"optional\"\n") ==
          "pfo3.toml:1: serve.tls: serve.tls.mode \"optional\" needs serve.tls.cert_file and serve.tls.key_file");
    CHECK(parse_error("[serve.tls]\nmin_version = \"1.1\"\n") ==
          "pfo3.toml:2: serve.tls.min_version: must be one of \"1.2\", \"1.3\", got \"1.1\"");
    CHECK(parse_error("[serve.tls]\nclient_cert = \"required\"\n") ==
          "pfo3.toml:1: serve.tls: serve.tls.client_cert \"required\" needs serve.tls.client_ca_file");
    CHECK(parse_error("[serve.tls]\ncert = \"x\"\n").find("pfo3.toml:2: serve.tls.cert: unknown key") == 0);
    CHECK(parse_error("[auth.clients]\n\"CN=a\" = [\"root\"]\n").find("unknown scope \"root\"") != std::string::npos);
}
