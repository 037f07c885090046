// The [web] section: its one key, and each kind of error with its file, line and key.
#include <catch2/catch.hpp>

#include "config_test_support.hpp"
#include "pfo3/config/load.hpp"

using namespace pfo3::config;
using namespace pfo3::config::test;

namespace {

std::string web_error(std::string_view text) {
    return error_of([&] { parse_settings(text, "pfo3.toml"); });
}

}  // namespace

TEST_CASE("[web] actions is read as a boolean, off by default") {
    CHECK(parse_settings("[web]\nactions = true\n", "pfo3.toml").web.actions);
    CHECK_FALSE(parse_settings("[web]\n", "pfo3.toml").web.actions);
    CHECK_FALSE(settings{}.web.actions);
}

TEST_CASE("[web] errors name the file, the line and the key") {
    CHECK(web_error("[web]\nactions = \"yes\"\n") == "pfo3.toml:2: web.actions: expected a boolean (true or false)");
    CHECK(web_error("[web]\naction = true\n") == "pfo3.toml:2: web.action: unknown key (did you mean web.actions?)");
    CHECK(web_error("web = 1\n") == "pfo3.toml:1: web: expected a table");
}
