// parse_settings and validate: defaults, every key, and the exact text of every kind of error.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <utility>

#include "config_test_support.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"

using namespace pfo3::config;
using namespace pfo3::config::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

std::string parse_error(std::string_view text) {
    return error_of([&] { parse_settings(text, "pfo3.toml"); });
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace

TEST_CASE("an empty file gives the defaults of SPEC section 3", "[parse]") {
    auto s = parse_settings("", "empty.toml");
    CHECK(s == settings{});
    CHECK(s.amqp.url == "amqp://guest:guest@127.0.0.1:5672/%2f");
    CHECK(s.amqp.queue == "tareas");
    CHECK(s.amqp.queue_type == "classic");
    CHECK(s.serve.listen == "127.0.0.1:5000");
    CHECK(s.serve.max_request_bytes == 1048576);
    CHECK(s.serve.max_connections == 10000);
    CHECK(s.serve.idle_timeout_s == 300);
    CHECK(s.work.prefetch == 1);
    CHECK(s.work.concurrency == 1);
    CHECK(s.store.uri == "sqlite:///var/lib/pfo3/results.db");
    CHECK(s.store.s3_access_key_id.empty());
    CHECK(s.store.s3_secret_access_key.empty());
    CHECK(s.store.s3_session_token.empty());
    CHECK(s.retry.max_attempts == 5);
    CHECK(s.retry.backoff_base_s == 1);
    CHECK(s.retry.backoff_factor == 4);
    CHECK(s.retry.backoff_max_s == 600);
    CHECK(s.retry.jitter == 0.2);
    CHECK(s.send.server == "127.0.0.1:5000");
    CHECK(s.send.type == "echo");
    CHECK(s.handlers.empty());
    CHECK_NOTHROW(validate(s));
}

TEST_CASE("every key is read", "[parse]") {
    auto s = parse_settings(read_file(PFO3_TEST_DATA "/config/every_key.toml"), "every_key.toml");
    CHECK(s.amqp.url == "amqps://pfo3:s3cret@broker.example:5671/prod");
    CHECK(s.amqp.password_file == "/run/secrets/amqp");
    CHECK(s.amqp.queue == "jobs.v2");
    CHECK(s.amqp.queue_type == "quorum");
    CHECK(s.serve.listen == "[::1]:6000");
    CHECK(s.serve.max_request_bytes == 65536);
    CHECK(s.serve.max_connections == 50);
    CHECK(s.serve.idle_timeout_s == 60);
    CHECK(s.serve.confirm_timeout_ms == 2500);
    CHECK(s.serve.max_unconfirmed == 500);
    CHECK(s.serve.max_pipelined == 64);
    CHECK(s.serve.shutdown_grace_s == 0);
    CHECK(s.work.prefetch == 16);
    CHECK(s.work.concurrency == 8);
    CHECK(s.work.shutdown_grace_s == 120);
    CHECK(s.store.uri == "postgresql://pfo3:pw@db.example/pfo3");
    CHECK(s.store.password_file == "/run/secrets/store");
    CHECK(s.store.s3_access_key_id == "AKIDEXAMPLE");
    CHECK(s.store.s3_secret_access_key == "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    CHECK(s.store.s3_session_token == "FwoGZXIvYXdzEXAMPLE//token==");
    CHECK(s.retry.max_attempts == 3);
    CHECK(s.retry.backoff_base_s == 0.5);
    CHECK(s.retry.backoff_factor == 2);
    CHECK(s.retry.backoff_max_s == 60);
    CHECK(s.retry.jitter == 0);
    CHECK(s.send.server == "serve.example:5000");
    CHECK(s.send.type == "sumar");
    REQUIRE(s.handlers.size() == 2);
    CHECK(s.handlers.at("resize").command ==
          std::vector<std::string>{"/usr/local/bin/resize", "--quality", "80"});
    CHECK(s.handlers.at("resize").timeout_s == 12.5);
    CHECK(s.handlers.at("resize").env ==
          std::vector<std::string>{"LC_ALL", "RESIZE_CACHE=/var/cache/resize", "PGPASSWORD=resize-own"});
    CHECK(s.handlers.at("img.thumb").command == std::vector<std::string>{"thumbnailer"});
    CHECK(s.handlers.at("img.thumb").env.empty());
    CHECK(s.handlers.at("img.thumb").timeout_s == 30);
    CHECK_NOTHROW(validate(s));
}

TEST_CASE("integers stand for numbers, inline tables and dotted keys work", "[parse]") {
    auto s = parse_settings("retry = { backoff_base_s = 2, jitter = 1 }\nwork.prefetch = 3\n",
                            "x.toml");
    CHECK(s.retry.backoff_base_s == 2.0);
    CHECK(s.retry.jitter == 1.0);
    CHECK(s.work.prefetch == 3);
    CHECK(s.retry.max_attempts == 5);
}

TEST_CASE("a value out of range names file, line and key", "[parse][errors]") {
    CHECK(parse_error("# comment\n\n[amqp]\nqueue = \"q\"\n\n[serve]\nmax_connections = 0\n") ==
          "pfo3.toml:7: serve.max_connections: must be between 1 and 1000000, got 0");
    CHECK(parse_error("[work]\nprefetch = 65536") ==
          "pfo3.toml:2: work.prefetch: must be between 1 and 65535, got 65536");
    CHECK(parse_error("[work]\nconcurrency = 1025") ==
          "pfo3.toml:2: work.concurrency: must be between 1 and 1024, got 1025");
    CHECK(parse_error("[work]\nshutdown_grace_s = -1") ==
          "pfo3.toml:2: work.shutdown_grace_s: must be between 0 and 3600, got -1");
    CHECK(parse_error("[serve]\nmax_request_bytes = 63") ==
          "pfo3.toml:2: serve.max_request_bytes: must be between 64 and 67108864, got 63");
    CHECK(parse_error("[serve]\nidle_timeout_s = 86401") ==
          "pfo3.toml:2: serve.idle_timeout_s: must be between 1 and 86400, got 86401");
    CHECK(parse_error("[serve]\nconfirm_timeout_ms = 99") ==
          "pfo3.toml:2: serve.confirm_timeout_ms: must be between 100 and 600000, got 99");
    CHECK(parse_error("[serve]\nmax_unconfirmed = 0") ==
          "pfo3.toml:2: serve.max_unconfirmed: must be between 1 and 1000000, got 0");
    CHECK(parse_error("[serve]\nmax_pipelined = 65537") ==
          "pfo3.toml:2: serve.max_pipelined: must be between 1 and 65536, got 65537");
    CHECK(parse_error("[serve]\nshutdown_grace_s = 3601") ==
          "pfo3.toml:2: serve.shutdown_grace_s: must be between 0 and 3600, got 3601");
    CHECK(parse_error("[retry]\nmax_attempts = 0") ==
          "pfo3.toml:2: retry.max_attempts: must be between 1 and 1000, got 0");
    CHECK(parse_error("[serve]\nmax_connections = 9223372036854775807") ==
          "pfo3.toml:2: serve.max_connections: must be between 1 and 1000000, got "
          "9223372036854775807");
}

TEST_CASE("number ranges, NaN and the backoff order are checked", "[parse][errors]") {
    CHECK(parse_error("[retry]\nbackoff_base_s = 0") ==
          "pfo3.toml:2: retry.backoff_base_s: must be greater than 0 and at most 86400, got 0");
    CHECK(parse_error("[retry]\nbackoff_factor = 0.5") ==
          "pfo3.toml:2: retry.backoff_factor: must be between 1 and 100, got 0.5");
    CHECK(parse_error("[retry]\njitter = 1.5") ==
          "pfo3.toml:2: retry.jitter: must be between 0 and 1, got 1.5");
    CHECK(parse_error("[retry]\njitter = nan") ==
          "pfo3.toml:2: retry.jitter: must be between 0 and 1, got nan");
    CHECK(parse_error("[retry]\nbackoff_max_s = inf") ==
          "pfo3.toml:2: retry.backoff_max_s: must be greater than 0 and at most 86400, got inf");
    CHECK(parse_error("[retry]\nbackoff_base_s = 10\nbackoff_max_s = 5\n") ==
          "pfo3.toml:3: retry.backoff_max_s: must be at least retry.backoff_base_s (10), got 5");
    // Only the base set: the base is what the file got wrong.
    CHECK(parse_error("[retry]\nbackoff_base_s = 700\n") ==
          "pfo3.toml:2: retry.backoff_base_s: must be at most retry.backoff_max_s (600), got 700");
    CHECK_NOTHROW(parse_settings("[retry]\nbackoff_base_s = 5\nbackoff_max_s = 5\n", "x"));
}

TEST_CASE("text values are checked", "[parse][errors]") {
    CHECK(parse_error("[amqp]\nqueue_type = \"stream\"") ==
          "pfo3.toml:2: amqp.queue_type: must be \"classic\" or \"quorum\", got \"stream\"");
    CHECK(parse_error("[amqp]\nqueue = \"\"") ==
          "pfo3.toml:2: amqp.queue: must be 1 to 200 characters of [A-Za-z0-9._:-], got \"\"");
    CHECK(parse_error("[amqp]\nqueue = \"a b\"") ==
          "pfo3.toml:2: amqp.queue: must be 1 to 200 characters of [A-Za-z0-9._:-], got \"a b\"");
    CHECK_NOTHROW(parse_settings("[amqp]\nqueue = \"" + std::string(200, 'q') + "\"", "x"));
    CHECK_THAT(parse_error("[amqp]\nqueue = \"" + std::string(201, 'q') + "\""),
               StartsWith("pfo3.toml:2: amqp.queue: must be 1 to 200 characters") &&
                   Contains("..."));
    CHECK(parse_error("[send]\ntype = \"bad/type\"") ==
          "pfo3.toml:2: send.type: must be 1 to 128 characters of [A-Za-z0-9._:-], got "
          "\"bad/type\"");
    CHECK(parse_error("[send]\ntype = \"a\\u0001\"") ==
          "pfo3.toml:2: send.type: must be 1 to 128 characters of [A-Za-z0-9._:-], got "
          "\"a\\x01\"");
}

TEST_CASE("HOST:PORT values are checked, listen alone may use port 0", "[parse][errors]") {
    for (auto good : {"0.0.0.0:5000", "localhost:1", "[::1]:65535", "[::]:0", "h.example:80"})
        CHECK_NOTHROW(parse_settings("[serve]\nlisten = \"" + std::string(good) + "\"", "x"));
    for (auto bad : {"5000", ":5000", "host:", "host:65536", "host:-1", "::1:5000", "[::1:5000",
                     "a b:5000", "host:5x"})
        CHECK(parse_error("[serve]\nlisten = \"" + std::string(bad) + "\"") ==
              "pfo3.toml:2: serve.listen: must be HOST:PORT with a port between 0 and 65535, "
              "got \"" + std::string(bad) + "\"");
    CHECK(parse_error("[send]\nserver = \"127.0.0.1:0\"") ==
          "pfo3.toml:2: send.server: must be HOST:PORT with a port between 1 and 65535, got "
          "\"127.0.0.1:0\"");
    CHECK_NOTHROW(parse_settings("[send]\nserver = \"[2001:db8::1]:5000\"", "x"));
}

TEST_CASE("errors about URLs mask the password", "[parse][errors][secrets]") {
    CHECK(parse_error("[amqp]\nurl = \"http://user:hunter2@host/\"") ==
          "pfo3.toml:2: amqp.url: must start with amqp:// or amqps://, got "
          "\"http://user:***@host/\"");
    CHECK(parse_error("[store]\nuri = \"mysql://u:hunter2@db/x\"") ==
          "pfo3.toml:2: store.uri: must start with sqlite://, file://, postgresql://, postgres:// or s3://, "
          "got \"mysql://u:***@db/x\"");
    CHECK(parse_error("[store]\nuri = \"sqlite://results.db\"") ==
          "pfo3.toml:2: store.uri: must name a database file by its absolute path: sqlite:///DIR/FILE.db, "
          "got \"sqlite://results.db\"");
    CHECK(parse_error("[store]\nuri = \"s3://\"") ==
          "pfo3.toml:2: store.uri: must name a location after s3://, got \"s3://\"");
    for (auto good : {"file:///tmp/r", "sqlite:///tmp/r.db", "postgres://u:p@h/db", "postgresql://", "s3://b/p?region=x"})
        CHECK_NOTHROW(parse_settings("[store]\nuri = \"" + std::string(good) + "\"", "x"));
    CHECK_THAT(parse_error("[amqp]\nurl = \"amqp://u:hunter2@h\"\nqueue = 1"),
               !Contains("hunter2"));
}

TEST_CASE("S3 keys are checked without ever quoting a secret", "[parse][errors][secrets]") {
    CHECK(parse_error("[store]\ns3_access_key_id = \"AKID\"\ns3_secret_access_key = \"hunter2 x\"") ==
          "pfo3.toml:3: store.s3_secret_access_key: must be printable ASCII without spaces (value not shown)");
    CHECK(parse_error("[store]\ns3_session_token = \"tok\\u00e9n\"") ==
          "pfo3.toml:2: store.s3_session_token: must be printable ASCII without spaces (value not shown)");
    CHECK(parse_error("[store]\ns3_secret_access_key = 4711") ==
          "pfo3.toml:2: store.s3_secret_access_key: expected a string, got an integer");
    CHECK_THAT(parse_error("[store]\ns3_secret_access_key = \"hunter2\"\ns3_secret_access_key = \"x\""),
               StartsWith("pfo3.toml:3: syntax error: ") && !Contains("hunter2"));
    // A key id and a secret go together; the error names the first key the file set.
    CHECK(parse_error("[store]\n\ns3_secret_access_key = \"hunter2\"") ==
          "pfo3.toml:3: store: store.s3_access_key_id and store.s3_secret_access_key go together "
          "(a session token needs both): set both or neither");
    CHECK_THAT(parse_error("[store]\ns3_access_key_id = \"AKID\"\ns3_session_token = \"hunter2\""),
               StartsWith("pfo3.toml:2: store: ") && !Contains("hunter2"));
    auto s = parse_settings("[store]\ns3_access_key_id = \"AKID\"\ns3_secret_access_key = \"a/b+c=\"", "x");
    CHECK(s.store.s3_secret_access_key == "a/b+c=");
    CHECK_NOTHROW(validate(s));
}

TEST_CASE("a wrong type names the expected type", "[parse][errors]") {
    CHECK(parse_error("[work]\nprefetch = \"4\"") ==
          "pfo3.toml:2: work.prefetch: expected an integer, got a string");
    CHECK(parse_error("[work]\nprefetch = 4.0") ==
          "pfo3.toml:2: work.prefetch: expected an integer, got a floating-point number");
    CHECK(parse_error("[retry]\njitter = true") ==
          "pfo3.toml:2: retry.jitter: expected a number, got a boolean");
    CHECK(parse_error("[amqp]\nurl = 5") ==
          "pfo3.toml:2: amqp.url: expected a string, got an integer");
    CHECK(parse_error("[send]\ntype = [\"echo\"]") ==
          "pfo3.toml:2: send.type: expected a string, got an array");
    CHECK(parse_error("[store]\nuri = 1979-05-27") ==
          "pfo3.toml:2: store.uri: expected a string, got a date");
    CHECK(parse_error("\nserve = 5") == "pfo3.toml:2: serve: expected a table, got an integer");
    CHECK(parse_error("[[work]]\nprefetch = 1") ==
          "pfo3.toml:1: work: expected a table, got an array");
}

TEST_CASE("unknown keys and tables are errors with a suggestion", "[parse][errors]") {
    CHECK(parse_error("[serve]\nlisten = \"h:1\"\nmax_conections = 5") ==
          "pfo3.toml:3: serve.max_conections: unknown key (did you mean serve.max_connections?)");
    CHECK(parse_error("[serve]\ncolour = 5") == "pfo3.toml:2: serve.colour: unknown key");
    CHECK(parse_error("\n[servr]\nlisten = \"h:1\"") ==
          "pfo3.toml:2: servr: unknown table (did you mean serve?)");
    CHECK(parse_error("[database]\nx = 1") == "pfo3.toml:1: database: unknown table");
    CHECK(parse_error("prefetch = 4") ==
          "pfo3.toml:1: prefetch: unknown key (did you mean work.prefetch?)");
    CHECK(parse_error("[work]\n[work.extra]\na = 1") ==
          "pfo3.toml:2: work.extra: unknown key");
}

TEST_CASE("a TOML syntax error names file and line", "[parse][errors]") {
    CHECK_THAT(parse_error("[work]\nprefetch = = 4\n"), StartsWith("pfo3.toml:2: syntax error: "));
    CHECK_THAT(parse_error("[work]\nprefetch = 1\nprefetch = 2\n"),
               StartsWith("pfo3.toml:3: syntax error: "));
    CHECK_THAT(parse_error("[amqp\n"), StartsWith("pfo3.toml:1: syntax error: "));
}

TEST_CASE("handlers are read and checked", "[parse][handlers]") {
    auto s = parse_settings("[handlers.resize]\ncommand = [\"/bin/resize\", \"-q\"]\n"
                            "timeout_s = 2\n[handlers.b]\ncommand = [\"b\"]\n",
                            "x");
    CHECK(s.handlers.at("resize").command == std::vector<std::string>{"/bin/resize", "-q"});
    CHECK(s.handlers.at("resize").timeout_s == 2.0);
    CHECK(s.handlers.at("b").timeout_s == 30);

    CHECK(parse_error("[handlers.resize]\ntimeout_s = 3") ==
          "pfo3.toml:1: handlers.resize: missing required key \"command\"");
    CHECK(parse_error("[handlers.resize]\ncommand = []") ==
          "pfo3.toml:2: handlers.resize.command: must not be empty: give the program and its "
          "arguments");
    CHECK(parse_error("[handlers.resize]\ncommand = \"/bin/resize\"") ==
          "pfo3.toml:2: handlers.resize.command: expected an array of strings, got a string");
    CHECK(parse_error("[handlers.resize]\ncommand = [\"/bin/resize\",\n  80]") ==
          "pfo3.toml:3: handlers.resize.command: expected an array of strings, element 2 is an "
          "integer");
    CHECK(parse_error("[handlers.resize]\ncommand = [\"bin/resize\"]") ==
          "pfo3.toml:2: handlers.resize.command: the program (first element) must be an absolute "
          "path or a name looked up in PATH, got \"bin/resize\"");
    CHECK(parse_error("[handlers.resize]\ncommand = [\"\"]") ==
          "pfo3.toml:2: handlers.resize.command: the program (first element) must be an absolute "
          "path or a name looked up in PATH, got \"\"");
    CHECK(parse_error("[handlers.resize]\ncommand = [\"/bin/x\", \"a\\u0000b\"]") ==
          "pfo3.toml:2: handlers.resize.command: element 2 contains a NUL character");
    CHECK(parse_error("[handlers.resize]\ncommand = [\"x\"]\ntimeout_s = 0") ==
          "pfo3.toml:3: handlers.resize.timeout_s: must be greater than 0 and at most 86400, "
          "got 0");
    CHECK(parse_error("[handlers.resize]\ncommand = [\"x\"]\ntimeout_s = \"30\"") ==
          "pfo3.toml:3: handlers.resize.timeout_s: expected a number, got a string");
    CHECK(parse_error("[handlers.resize]\ncommand = [\"x\"]\ntimeout = 3") ==
          "pfo3.toml:3: handlers.resize.timeout: unknown key (did you mean "
          "handlers.resize.timeout_s?)");
    CHECK(parse_error("[handlers.\"a b\"]\ncommand = [\"x\"]") ==
          "pfo3.toml:1: handlers.a b: a handler name must be 1 to 128 characters of "
          "[A-Za-z0-9._:-], got \"a b\"");
    CHECK(parse_error("[handlers]\nresize = 5") ==
          "pfo3.toml:2: handlers.resize: expected a table, got an integer");
    CHECK(parse_error("handlers = 5") == "pfo3.toml:1: handlers: expected a table, got an integer");
}

TEST_CASE("a handler's env lists variables, the worker's own are refused by bare name",
          "[parse][handlers][secrets]") {
    auto s = parse_settings("[handlers.r]\ncommand = [\"r\"]\nenv = [\"LC_ALL\", \"A_B=x=y\", \"PGPASSWORD=own\", "
                            "\"PFO3_TOKEN=t\", \"AWS_PROFILE=p\"]\n",
                            "x");
    CHECK(s.handlers.at("r").env ==
          std::vector<std::string>{"LC_ALL", "A_B=x=y", "PGPASSWORD=own", "PFO3_TOKEN=t", "AWS_PROFILE=p"});
    const std::pair<std::string, std::string> own[] = {{"PFO3_AMQP_URL", "PFO3_"},
                                                       {"AWS_SECRET_ACCESS_KEY", "AWS_"},
                                                       {"PGPASSWORD", "PG"},
                                                       {"PFO3_STORE_PASSWORD_FILE", "PFO3_"}};
    for (const auto& [name, prefix] : own) {
        INFO(name);
        CHECK(parse_error("[handlers.r]\ncommand = [\"r\"]\nenv = [\"LANG\",\n  \"" + name + "\"]") ==
              "pfo3.toml:3: handlers.r.env: element 2 names the worker's own " + prefix + "* variable \"" + name +
                  "\", which is never passed on (it may hold a secret); give the handler its own value with "
                  "NAME=VALUE");
    }
    CHECK(parse_error("[handlers.r]\ncommand = [\"r\"]\nenv = [\"1X\"]") ==
          "pfo3.toml:3: handlers.r.env: element 1 must be NAME or NAME=VALUE with NAME of [A-Za-z0-9_] not "
          "starting with a digit, got \"1X\"");
    CHECK(parse_error("[handlers.r]\ncommand = [\"r\"]\nenv = [\"=v\"]") ==
          "pfo3.toml:3: handlers.r.env: element 1 must be NAME or NAME=VALUE with NAME of [A-Za-z0-9_] not "
          "starting with a digit, got \"\"");
    CHECK(parse_error("[handlers.r]\ncommand = [\"r\"]\nenv = \"LANG\"") ==
          "pfo3.toml:3: handlers.r.env: expected an array of strings, got a string");
    CHECK(parse_error("[handlers.r]\ncommand = [\"r\"]\nenvs = []") ==
          "pfo3.toml:3: handlers.r.envs: unknown key (did you mean handlers.r.env?)");

    settings flagged;
    flagged.handlers["r"] = handler_settings{{"r"}, 30, {"AWS_SECRET_ACCESS_KEY"}};
    CHECK_THAT(error_of([&] { validate(flagged); }), StartsWith("handlers.r.env: element 1 names the worker's own AWS_*"));
}

TEST_CASE("validate re-checks ranges after flags, naming the key without a file",
          "[validate]") {
    settings s;
    CHECK_NOTHROW(validate(s));

    auto broken = [](auto change) {
        settings s;
        change(s);
        return error_of([&] { validate(s); });
    };
    CHECK(broken([](settings& s) { s.work.prefetch = 0; }) ==
          "work.prefetch: must be between 1 and 65535, got 0");
    CHECK(broken([](settings& s) { s.work.concurrency = 2000; }) ==
          "work.concurrency: must be between 1 and 1024, got 2000");
    CHECK(broken([](settings& s) { s.serve.max_request_bytes = 1; }) ==
          "serve.max_request_bytes: must be between 64 and 67108864, got 1");
    CHECK(broken([](settings& s) { s.serve.listen = "nope"; }) ==
          "serve.listen: must be HOST:PORT with a port between 0 and 65535, got \"nope\"");
    CHECK(broken([](settings& s) { s.store.s3_secret_access_key = "hunter2 x"; }) ==
          "store.s3_secret_access_key: must be printable ASCII without spaces (value not shown)");
    CHECK(broken([](settings& s) {
              s.store.s3_access_key_id = "AKID";
              s.store.s3_secret_access_key.clear();
          }) == "store: store.s3_access_key_id and store.s3_secret_access_key go together (a session token "
                "needs both): set both or neither");
    CHECK(broken([](settings& s) { s.amqp.url = "amqx://u:pw@h"; }) ==
          "amqp.url: must start with amqp:// or amqps://, got \"amqx://u:***@h\"");
    CHECK(broken([](settings& s) { s.amqp.queue = ""; }) ==
          "amqp.queue: must be 1 to 200 characters of [A-Za-z0-9._:-], got \"\"");
    CHECK(broken([](settings& s) { s.retry.backoff_max_s = 0.5; }) ==
          "retry.backoff_max_s: must be at least retry.backoff_base_s (1), got 0.5");
    CHECK(broken([](settings& s) { s.retry.jitter = -0.1; }) ==
          "retry.jitter: must be between 0 and 1, got -0.1");
    CHECK(broken([](settings& s) { s.handlers["x"] = {}; }) ==
          "handlers.x.command: must not be empty: give the program and its arguments");
    CHECK(broken([](settings& s) { s.handlers["x"] = {{"/bin/x"}, -1, {}}; }) ==
          "handlers.x.timeout_s: must be greater than 0 and at most 86400, got -1");
    CHECK(broken([](settings& s) { s.handlers["a/b"] = {{"/bin/x"}, 1, {}}; }) ==
          "handlers.a/b: a handler name must be 1 to 128 characters of [A-Za-z0-9._:-], got "
          "\"a/b\"");
}

TEST_CASE("the serve limits against exhaustion and the attempts limit are read and checked",
          "[parse][errors][limits]") {
    const settings defaults;
    CHECK(defaults.serve.max_unsent_reply_bytes == 1048576);
    CHECK(defaults.serve.write_timeout_s == 30);
    CHECK(defaults.serve.request_timeout_s == 30);
    CHECK(defaults.serve.max_connections_per_address == 256);
    CHECK(defaults.retry.max_attempts_limit == 25);

    auto s = parse_settings("[serve]\nmax_unsent_reply_bytes = 65536\nwrite_timeout_s = 5\n"
                            "request_timeout_s = 2\nmax_connections_per_address = 3\n"
                            "[retry]\nmax_attempts_limit = 8\nmax_attempts = 8\n",
                            "x");
    CHECK(s.serve.max_unsent_reply_bytes == 65536);
    CHECK(s.serve.write_timeout_s == 5);
    CHECK(s.serve.request_timeout_s == 2);
    CHECK(s.serve.max_connections_per_address == 3);
    CHECK(s.retry.max_attempts_limit == 8);

    CHECK(parse_error("[serve]\nmax_unsent_reply_bytes = 4095") ==
          "pfo3.toml:2: serve.max_unsent_reply_bytes: must be between 4096 and 1073741824, got 4095");
    CHECK(parse_error("[serve]\nwrite_timeout_s = 0") ==
          "pfo3.toml:2: serve.write_timeout_s: must be between 1 and 86400, got 0");
    CHECK(parse_error("[serve]\nrequest_timeout_s = 86401") ==
          "pfo3.toml:2: serve.request_timeout_s: must be between 1 and 86400, got 86401");
    CHECK(parse_error("[serve]\nmax_connections_per_address = 0") ==
          "pfo3.toml:2: serve.max_connections_per_address: must be between 1 and 1000000, got 0");
    CHECK(parse_error("[serve]\nwrite_timeout_s = \"30\"") ==
          "pfo3.toml:2: serve.write_timeout_s: expected an integer, got a string");
    CHECK(parse_error("[retry]\nmax_attempts_limit = 1001") ==
          "pfo3.toml:2: retry.max_attempts_limit: must be between 1 and 1000, got 1001");
    // The default of max_attempts may not exceed the limit a request is held to.
    CHECK(parse_error("[retry]\nmax_attempts = 30\n") ==
          "pfo3.toml:2: retry.max_attempts: must be at most retry.max_attempts_limit (25), got 30");
    CHECK(parse_error("[retry]\nmax_attempts_limit = 3\n") ==
          "pfo3.toml:2: retry.max_attempts_limit: must be at least retry.max_attempts (5), got 3");
    CHECK_NOTHROW(parse_settings("[retry]\nmax_attempts = 30\nmax_attempts_limit = 30\n", "x"));

    settings flagged;
    flagged.retry.max_attempts = 26;
    CHECK(error_of([&] { validate(flagged); }) ==
          "retry.max_attempts: must be at most retry.max_attempts_limit (25), got 26");
    flagged = settings{};
    flagged.serve.request_timeout_s = 0;
    CHECK(error_of([&] { validate(flagged); }) ==
          "serve.request_timeout_s: must be between 1 and 86400, got 0");
}
