#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "pfo3/auth/tokens.hpp"
#include "pfo3/core/error.hpp"

using namespace pfo3;
using namespace pfo3::auth;

namespace {

std::string hash_hex_of(std::string_view token) {
    token_entry e;
    e.name = "x";
    e.scopes.add(scope::submit);
    e.hash = sha256(token);
    const std::string line = format_entry(e);
    return line.substr(line.find("sha256:"));
}

std::string message_of(std::string_view text) {
    try {
        parse_tokens(text, "tokens.txt");
    } catch (const config_error& e) {
        return e.what();
    }
    return "no error";
}

std::filesystem::path temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pfo3-auth-test.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    return tmpl;
}

}  // namespace

TEST_CASE("sha256 of a known text matches the published test vector") {
    // FIPS 180-2 example "abc".
    CHECK(hash_hex_of("abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("constant_time_equal compares bytes and lengths") {
    CHECK(constant_time_equal("abc", "abc"));
    CHECK_FALSE(constant_time_equal("abc", "abd"));
    CHECK_FALSE(constant_time_equal("abc", "ab"));
    CHECK(constant_time_equal("", ""));
    CHECK_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST_CASE("a tokens file's lines give names, scopes and hashes, skipping comments and blanks") {
    const std::string text = "# tokens\n\nalice submit,status " + hash_hex_of("t1") + "\r\n  bob\tadmin  " +
                             hash_hex_of("t2") + "\n";
    auto entries = parse_tokens(text, "tokens.txt");
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].name == "alice");
    CHECK(entries[0].scopes.to_string() == "submit,status");
    CHECK(entries[1].name == "bob");
    CHECK(entries[1].scopes.has(scope::admin));
    CHECK_FALSE(entries[1].scopes.has(scope::submit));
    token_table table(entries);
    REQUIRE(table.find("t2") != nullptr);
    CHECK(table.find("t2")->name == "bob");
    CHECK(table.find("t3") == nullptr);
    CHECK(table.find("") == nullptr);
}

TEST_CASE("a malformed tokens file line is refused with its line number, never quoting the hash") {
    const std::string good = hash_hex_of("t");
    CHECK(message_of("\nalice submit\n") == "tokens.txt:2: a line needs three fields, this one has 2 (expected NAME SCOPES sha256:HEX)");
    CHECK(message_of("alice submit,bogus " + good).find("tokens.txt:1: alice: unknown scope \"bogus\"") == 0);
    CHECK(message_of("alice submit md5:abcd") == "tokens.txt:1: alice: the third field must start with sha256: (expected NAME SCOPES sha256:HEX)");
    const std::string bad_hex = "alice submit sha256:" + std::string(63, 'a') + "g";
    CHECK(message_of(bad_hex).find(std::string(63, 'a')) == std::string::npos);
    CHECK(message_of(bad_hex).find("must be 64 hex digits") != std::string::npos);
    CHECK(message_of("al/ice submit " + good).find("tokens.txt:1: the name must be") == 0);
    CHECK(message_of("a submit " + good + "\na status " + good).find("tokens.txt:2: the name a appears twice") == 0);
    CHECK(message_of("a submit, " + good).find("a: unknown scope \"\"") != std::string::npos);
}

TEST_CASE("make_token gives pfo3_ and 43 base64url characters, different every time") {
    const std::string a = make_token(), b = make_token();
    CHECK(a.size() == 5 + 43);
    CHECK(a.rfind("pfo3_", 0) == 0);
    CHECK(a != b);
    for (char c : a.substr(5))
        CHECK(((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'));
}

TEST_CASE("add_token stores only the hash in a 0600 file and revoke_token removes the line") {
    const auto dir = temp_dir();
    const std::string file = (dir / "tokens").string();
    scope_set scopes;
    scopes.add(scope::submit);
    const std::string token = add_token(file, "alice", scopes);
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::ifstream in(file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.find(token) == std::string::npos);
    CHECK(text.find(token.substr(5)) == std::string::npos);
    add_token(file, "bob", scopes);
    CHECK_THROWS_AS(add_token(file, "alice", scopes), config_error);
    token_table table(load_tokens_file(file));
    REQUIRE(table.find(token) != nullptr);
    CHECK(table.find(token)->name == "alice");
    CHECK(revoke_token(file, "alice"));
    CHECK_FALSE(revoke_token(file, "alice"));
    auto left = load_tokens_file(file);
    REQUIRE(left.size() == 1);
    CHECK(left[0].name == "bob");
    std::filesystem::remove_all(dir);
}

TEST_CASE("read_token_file takes the first line without blanks and refuses an empty one") {
    const auto dir = temp_dir();
    const auto file = dir / "t";
    std::ofstream(file) << "  pfo3_abc \r\nsecond\n";
    CHECK(read_token_file(file.string()) == "pfo3_abc");
    std::ofstream(file) << "\n";
    CHECK_THROWS_WITH(read_token_file(file.string()), Catch::Contains("first line is empty"));
    CHECK_THROWS_WITH(read_token_file((dir / "missing").string()), Catch::Contains("cannot be read"));
    std::filesystem::remove_all(dir);
}
