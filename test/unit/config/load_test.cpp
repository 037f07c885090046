// Environment overrides, config file lookup order, load_settings and the shipped example file.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <system_error>

#include "config_test_support.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"

using namespace pfo3::config;
using namespace pfo3::config::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// Changes the working directory for one scope and always changes it back.
class scoped_chdir {
public:
    explicit scoped_chdir(const fs::path& to) : previous_(fs::current_path()) {
        fs::current_path(to);
    }
    ~scoped_chdir() {
        std::error_code ec;
        fs::current_path(previous_, ec);
    }
    scoped_chdir(const scoped_chdir&) = delete;
    scoped_chdir& operator=(const scoped_chdir&) = delete;

private:
    fs::path previous_;
};

}  // namespace

TEST_CASE("environment variables override the file's values", "[env]") {
    settings s = parse_settings("[work]\nprefetch = 2\n[amqp]\nqueue = \"from_file\"\n", "x");
    apply_environment(s, fake_env({{"PFO3_AMQP_URL", "amqps://u:p@broker:5671/v"},
                                   {"PFO3_QUEUE", "from_env"},
                                   {"PFO3_STORE", "s3://bucket/prefix?region=eu"},
                                   {"PFO3_SERVER", "srv.example:7000"},
                                   {"PFO3_LISTEN", "127.0.0.1:0"},
                                   {"PFO3_PREFETCH", "32"},
                                   {"PFO3_CONCURRENCY", "4"},
                                   {"PFO3_TYPE", "sum"}}));
    CHECK(s.amqp.url == "amqps://u:p@broker:5671/v");
    CHECK(s.amqp.queue == "from_env");
    CHECK(s.store.uri == "s3://bucket/prefix?region=eu");
    CHECK(s.send.server == "srv.example:7000");
    CHECK(s.serve.listen == "127.0.0.1:0");
    CHECK(s.work.prefetch == 32);
    CHECK(s.work.concurrency == 4);
    CHECK(s.send.type == "sum");
}

TEST_CASE("unset or empty variables leave the value alone", "[env]") {
    settings s = parse_settings("[work]\nprefetch = 2\n", "x");
    apply_environment(s, fake_env({{"PFO3_PREFETCH", ""}}));
    CHECK(s.work.prefetch == 2);
    apply_environment(s, fake_env({}));
    CHECK(s.work.prefetch == 2);
}

TEST_CASE("a bad environment value is an error naming the variable", "[env][errors]") {
    auto env_error = [](std::string name, std::string value) {
        settings s;
        return error_of([&] { apply_environment(s, fake_env({{name, value}})); });
    };
    CHECK(env_error("PFO3_PREFETCH", "0") == "PFO3_PREFETCH: must be between 1 and 65535, got 0");
    CHECK(env_error("PFO3_PREFETCH", "ten") == "PFO3_PREFETCH: must be an integer, got \"ten\"");
    CHECK(env_error("PFO3_PREFETCH", "4 ") == "PFO3_PREFETCH: must be an integer, got \"4 \"");
    CHECK(env_error("PFO3_PREFETCH", "99999999999999999999") ==
          "PFO3_PREFETCH: must be between 1 and 65535, got 99999999999999999999");
    CHECK(env_error("PFO3_CONCURRENCY", "-3") ==
          "PFO3_CONCURRENCY: must be between 1 and 1024, got -3");
    CHECK(env_error("PFO3_AMQP_URL", "redis://u:topsecret@h") ==
          "PFO3_AMQP_URL: must start with amqp:// or amqps://, got \"redis://u:***@h\"");
    CHECK(env_error("PFO3_STORE", "ftp://u:topsecret@h") ==
          "PFO3_STORE: must start with sqlite://, file://, postgresql://, postgres:// or s3://, got "
          "\"ftp://u:***@h\"");
    CHECK(env_error("PFO3_QUEUE", "a queue") ==
          "PFO3_QUEUE: must be 1 to 200 characters of [A-Za-z0-9._:-], got \"a queue\"");
    CHECK(env_error("PFO3_SERVER", "host") ==
          "PFO3_SERVER: must be HOST:PORT with a port between 1 and 65535, got \"host\"");
    CHECK(env_error("PFO3_LISTEN", "host:70000") ==
          "PFO3_LISTEN: must be HOST:PORT with a port between 0 and 65535, got \"host:70000\"");
    CHECK(env_error("PFO3_TYPE", "a/b") ==
          "PFO3_TYPE: must be 1 to 128 characters of [A-Za-z0-9._:-], got \"a/b\"");
}

TEST_CASE("process_environment reads the real environment", "[env]") {
    REQUIRE(::setenv("PFO3_CONFIG_UNIT_TEST_VAR", "value 1", 1) == 0);
    auto env = process_environment();
    CHECK(env("PFO3_CONFIG_UNIT_TEST_VAR") == std::optional<std::string>("value 1"));
    REQUIRE(::unsetenv("PFO3_CONFIG_UNIT_TEST_VAR") == 0);
    CHECK_FALSE(env("PFO3_CONFIG_UNIT_TEST_VAR").has_value());
}

TEST_CASE("config lookup: flag, then PFO3_CONFIG, then the fallbacks in order", "[lookup]") {
    temp_dir dir;
    auto flag_file = dir.write("flag.toml", "");
    auto env_file = dir.write("env.toml", "");
    auto local = dir.write("local/pfo3.toml", "");
    auto system = dir.write("etc/pfo3.toml", "");
    std::vector<std::string_view> fallbacks{local, system};
    auto env = fake_env({{"PFO3_CONFIG", env_file}});

    CHECK(find_config_file(flag_file, env, fallbacks) == flag_file);
    CHECK(find_config_file(std::nullopt, env, fallbacks) == env_file);
    CHECK(find_config_file(std::nullopt, fake_env({{"PFO3_CONFIG", ""}}), fallbacks) == local);
    CHECK(find_config_file(std::nullopt, fake_env({}), fallbacks) == local);
    fs::remove(local);
    CHECK(find_config_file(std::nullopt, fake_env({}), fallbacks) == system);
    fs::remove(system);
    CHECK(find_config_file(std::nullopt, fake_env({}), fallbacks) == std::nullopt);
}

TEST_CASE("a named config file that is missing is an error naming it", "[lookup][errors]") {
    temp_dir dir;
    auto missing = (dir.path() / "nope.toml").string();
    auto present = dir.write("pfo3.toml", "");
    std::vector<std::string_view> fallbacks{present};
    CHECK(error_of([&] { find_config_file(missing, fake_env({}), fallbacks); }) ==
          missing + ": config file named by --config does not exist");
    CHECK(error_of([&] {
              find_config_file(std::nullopt, fake_env({{"PFO3_CONFIG", missing}}), fallbacks);
          }) == missing + ": config file named by PFO3_CONFIG does not exist");
    CHECK(error_of([&] { find_config_file(dir.path().string(), fake_env({}), fallbacks); }) ==
          dir.path().string() + ": config file named by --config is a directory");
    CHECK(error_of([&] { find_config_file(std::string(), fake_env({}), fallbacks); }) ==
          "--config: names an empty config file path");
}

TEST_CASE("./pfo3.toml in the working directory is found by the default lookup", "[lookup]") {
    temp_dir dir;
    dir.write("pfo3.toml", "[work]\nprefetch = 9\n");
    scoped_chdir in(dir.path());
    REQUIRE(find_config_file(std::nullopt, fake_env({})) == std::string("pfo3.toml"));
    auto s = load_settings(std::nullopt, fake_env({}));
    CHECK(s.work.prefetch == 9);
    CHECK(s.source == "pfo3.toml");
}

TEST_CASE("load_settings layers environment over file over defaults", "[load]") {
    const std::string file = PFO3_TEST_DATA "/config/prefetch7.toml";
    auto s = load_settings(file, fake_env({{"PFO3_CONCURRENCY", "3"}}));
    CHECK(s.source == file);
    CHECK(s.work.prefetch == 7);
    CHECK(s.work.concurrency == 3);
    CHECK(s.amqp.queue == "tareas");

    auto overridden = load_settings(file, fake_env({{"PFO3_PREFETCH", "11"}}));
    CHECK(overridden.work.prefetch == 11);

    // The variable names the file when no flag is given.
    auto via_env = load_settings(std::nullopt, fake_env({{"PFO3_CONFIG", file}}));
    CHECK(via_env.work.prefetch == 7);
}

TEST_CASE("load_settings reports file errors with the path and line", "[load][errors]") {
    const std::string file = PFO3_TEST_DATA "/config/prefetch0.toml";
    CHECK(error_of([&] { load_settings(file, fake_env({})); }) ==
          file + ":2: work.prefetch: must be between 1 and 65535, got 0");
}

TEST_CASE("an unreadable or oversized config file is an error naming it", "[load][errors]") {
    temp_dir dir;
    auto big = dir.write("big.toml", "# " + std::string(std::size_t{1} << 20, 'x') + "\n");
    CHECK(error_of([&] { load_settings(big, fake_env({})); }) ==
          big + ": config file is larger than 1048576 bytes");
    if (::geteuid() != 0) {  // root reads anything
        auto locked = dir.write("locked.toml", "");
        fs::permissions(locked, fs::perms::none);
        CHECK(error_of([&] { load_settings(locked, fake_env({})); }) ==
              locked + ": cannot open config file: Permission denied");
    }
}

TEST_CASE("without any file the built-in defaults apply", "[load]") {
    temp_dir dir;
    scoped_chdir in(dir.path());
    std::vector<std::string_view> none{};
    CHECK(find_config_file(std::nullopt, fake_env({}), none) == std::nullopt);
    // load_settings also consults /etc/pfo3/pfo3.toml; only check it when the host has none.
    if (!fs::exists("/etc/pfo3/pfo3.toml")) {
        auto s = load_settings(std::nullopt, fake_env({}));
        CHECK(s == settings{});
        CHECK(s.source == "built-in defaults");
    }
}

TEST_CASE("config/pfo3.toml documents exactly the defaults", "[example]") {
    const std::string file = PFO3_TEST_DATA "/../../config/pfo3.toml";
    auto s = load_settings(file, fake_env({}));
    CHECK(s.source == file);
    s.source = settings{}.source;
    CHECK(s.handlers.empty());
    CHECK(s == settings{});

    // The commented [handlers.resize] example parses too once uncommented.
    std::ifstream in(file);
    std::string text, line;
    bool in_handlers = false;
    while (std::getline(in, line)) {
        if (line.starts_with("# [handlers.")) in_handlers = true;
        if (in_handlers && line.starts_with("# ")) line = line.substr(2);
        text += line + "\n";
    }
    REQUIRE(in_handlers);
    auto with_handler = parse_settings(text, "uncommented");
    REQUIRE(with_handler.handlers.count("resize") == 1);
    CHECK(with_handler.handlers.at("resize").command ==
          std::vector<std::string>{"/usr/local/bin/resize", "--quality", "80"});
    CHECK(with_handler.handlers.at("resize").timeout_s == 30);
}
