// apply_password_files: [amqp] / [store] password_file (and their PFO3_* variables) put the
// first line of a file into the URL, so that no password needs to be on a command line.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "config_test_support.hpp"
#include "pfo3/config/load.hpp"

using namespace pfo3::config;
using namespace pfo3::config::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// What `f` writes to file descriptor 2 (the log).
template <typename F>
std::string stderr_of(F&& f) {
    std::fflush(stderr);
    char path[] = "/tmp/pfo3-config-stderr-XXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::unlink(path);
    int saved = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    auto restore = [&] {
        ::dup2(saved, STDERR_FILENO);
        ::close(saved);
    };
    try {
        f();
    } catch (...) {
        restore();
        ::close(fd);
        throw;
    }
    restore();
    std::string text;
    char buf[4096];
    ::lseek(fd, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return text;
}

// Writes a password file of `mode` (by default 0600) into `dir`; returns its path.
std::string password_file(const temp_dir& dir, const std::string& name, const std::string& text,
                          fs::perms mode = fs::perms::owner_read | fs::perms::owner_write) {
    auto path = dir.write(name, text);
    fs::permissions(path, mode);
    return path;
}

settings with_files(const std::string& amqp_url, const std::string& amqp_file, const std::string& store_uri = {},
                    const std::string& store_file = {}) {
    settings s;
    s.amqp.url = amqp_url;
    s.amqp.password_file = amqp_file;
    if (!store_uri.empty()) s.store.uri = store_uri;
    s.store.password_file = store_file;
    return s;
}

// Every character that cuts a URL short, a colon, and a non-ASCII letter.
const std::string special = "pa/ss?w#o@r:dé";
const std::string encoded = "pa%2fss%3fw%23o%40r%3ad%c3%a9";

}  // namespace

TEST_CASE("the password file variables set the keys", "[password_file][env]") {
    settings s;
    apply_environment(s, fake_env({{"PFO3_AMQP_PASSWORD_FILE", "/run/secrets/amqp"},
                                   {"PFO3_STORE_PASSWORD_FILE", "/run/secrets/store"}}));
    CHECK(s.amqp.password_file == "/run/secrets/amqp");
    CHECK(s.store.password_file == "/run/secrets/store");
}

TEST_CASE("without password files nothing changes", "[password_file]") {
    settings s;
    apply_password_files(s);
    CHECK(s == settings{});
}

TEST_CASE("the file's first line becomes the password of the URL's user", "[password_file]") {
    temp_dir dir;
    auto amqp = password_file(dir, "amqp", special + "\nsecond line\n");
    auto store = password_file(dir, "store", special + "\r\n");
    auto s = with_files("amqp://pfo3@broker:5672/%2f", amqp, "postgresql://pfo3@db:5432/pfo3?sslmode=require", store);
    auto log = stderr_of([&] { apply_password_files(s); });
    CHECK(s.amqp.url == "amqp://pfo3:" + encoded + "@broker:5672/%2f");
    CHECK(s.store.uri == "postgresql://pfo3:" + encoded + "@db:5432/pfo3?sslmode=require");
    CHECK(log.empty());

    // No final line end, and postgres:// too.
    auto bare = password_file(dir, "bare", "pw");
    auto t = with_files("amqps://u@h/v", bare, "postgres://u@h/db", bare);
    apply_password_files(t);
    CHECK(t.amqp.url == "amqps://u:pw@h/v");
    CHECK(t.store.uri == "postgres://u:pw@h/db");
}

TEST_CASE("the file wins over a password in the URL, with a warning that shows neither", "[password_file]") {
    temp_dir dir;
    auto file = password_file(dir, "pw", "from-file\n");
    auto s = with_files("amqp://pfo3:in-url/x@broker/%2f", file,
                        "postgresql://pfo3:in-uri@db/pfo3?password=in-query&sslmode=disable", file);
    auto log = stderr_of([&] { apply_password_files(s); });
    CHECK(s.amqp.url == "amqp://pfo3:from-file@broker/%2f");
    CHECK(s.store.uri == "postgresql://pfo3:from-file@db/pfo3?sslmode=disable");
    CHECK_THAT(log, Contains("the password file replaces the password in the URL") && Contains("amqp.password_file") &&
                        Contains("store.password_file") && Contains("password= parameter"));
    for (auto secret : {"from-file", "in-url", "in-uri", "in-query"}) CHECK_THAT(log, !Contains(secret));

    auto only_query = with_files("amqp://u@h/", file, "postgresql://u@db/x?password=in-query", file);
    stderr_of([&] { apply_password_files(only_query); });
    CHECK(only_query.store.uri == "postgresql://u:from-file@db/x");
}

TEST_CASE("a file group or others may read is used, with a warning naming it", "[password_file]") {
    temp_dir dir;
    auto file = password_file(dir, "pw", "loose-secret\n", fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    auto s = with_files("amqp://u@h/", file);
    auto log = stderr_of([&] { apply_password_files(s); });
    CHECK(s.amqp.url == "amqp://u:loose-secret@h/");
    CHECK_THAT(log, Contains("group or others may read the password file") && Contains(file) &&
                        Contains("amqp.password_file"));
    CHECK_THAT(log, !Contains("loose-secret"));
}

TEST_CASE("a password file that cannot serve is an error naming key and path, never content",
          "[password_file][errors]") {
    temp_dir dir;
    const auto missing = (dir.path() / "missing").string();
    CHECK(error_of([&] {
              auto s = with_files("amqp://u@h/", missing);
              apply_password_files(s);
          }) == "amqp.password_file: " + missing + ": cannot read: No such file or directory");
    const auto directory = dir.path().string();
    CHECK(error_of([&] {
              auto s = with_files("amqp://u@h/", directory);
              apply_password_files(s);
          }) == "amqp.password_file: " + directory + ": cannot read: Is a directory");
    for (auto text : {"", "\n", "\nsecond-line-secret\n", "\r\nsecond-line-secret"}) {
        auto empty = password_file(dir, "empty", text);
        auto message = error_of([&] {
            auto s = with_files("amqp://u@h/", {}, "postgresql://u@db/x", empty);
            apply_password_files(s);
        });
        CHECK(message == "store.password_file: " + empty + ": is empty (its first line is the password)");
    }
    auto long_line = password_file(dir, "long", std::string(5000, 'x') + "\n");
    CHECK(error_of([&] {
              auto s = with_files("amqp://u@h/", long_line);
              apply_password_files(s);
          }) == "amqp.password_file: " + long_line + ": the first line is longer than 4096 bytes");

    auto file = password_file(dir, "pw", "file-secret\n");
    auto no_user = error_of([&] {
        auto s = with_files("amqp://h:5672/%2f", file);
        apply_password_files(s);
    });
    CHECK(no_user == "amqp.password_file: " + file +
                         ": needs a user name in amqp.url (SCHEME://USER@HOST/...), got 'amqp://h:5672/%2f'");
    auto not_postgres = error_of([&] {
        auto s = with_files("amqp://u@h/", {}, "s3://u:s3-secret@bucket/prefix", file);
        apply_password_files(s);
    });
    CHECK(not_postgres == "store.password_file: " + file +
                              ": applies to postgresql:// store URIs only, store.uri is 's3://u:***@bucket/prefix'");
    for (const auto& m : {no_user, not_postgres}) CHECK_THAT(m, !Contains("file-secret"));
}
