#include <catch2/catch.hpp>

#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"

using namespace pfo3;
using namespace pfo3::config;

TEST_CASE("[http] listen takes HOST:PORT, HOST:FIRST-LAST or off, and limits are checked", "[http]") {
    CHECK(parse_settings("[http]\nlisten = \"127.0.0.1:5080\"\n", "t").http.listen == "127.0.0.1:5080");
    CHECK(parse_settings("[http]\nlisten = \"127.0.0.1:5081-5180\"\n", "t").http.listen == "127.0.0.1:5081-5180");
    CHECK(parse_settings("[http]\nlisten = \"off\"\n", "t").http.listen == "off");
    CHECK(parse_settings("[http]\ntype_label_limit = 7\n", "t").http.type_label_limit == 7);
    CHECK_THROWS_WITH(parse_settings("[http]\nlisten = \"127.0.0.1:5180-5081\"\n", "t"),
                      Catch::Contains("http.listen"));
    CHECK_THROWS_AS(parse_settings("[http]\nlisten = \"nope\"\n", "t"), config_error);
    CHECK_THROWS_AS(parse_settings("[http]\ntype_label_limit = 0\n", "t"), config_error);
    CHECK_THROWS_AS(parse_settings("[http]\nstore_check_s = 0\n", "t"), config_error);
    CHECK(settings{}.http.listen.empty());
    CHECK(settings{}.http.type_label_limit == 100);
}
