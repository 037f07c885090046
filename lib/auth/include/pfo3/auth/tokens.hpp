#pragma once
// Bearer tokens (docs/security.md): the tokens file holds one line `NAME SCOPES sha256:HEX` per
// token, hashes only; a presented token is hashed and compared with every entry in constant
// time. Everything here is a pure function or a value type; safe on any thread.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pfo3/auth/scopes.hpp"

namespace pfo3::auth {

/// A SHA-256 digest.
using digest = std::array<std::uint8_t, 32>;

/// One line of the tokens file.
struct token_entry {
    std::string name;  ///< the principal, 1-64 characters of [A-Za-z0-9._@-]
    scope_set scopes;
    digest hash{};
};

/// Every token a server accepts, by hash.
class token_table {
public:
    token_table() = default;
    explicit token_table(std::vector<token_entry> entries) : entries_(std::move(entries)) {}
    /// The entry whose hash matches `token`'s, or nullptr. Compares with every entry, each in
    /// constant time, so the time taken says nothing about how close a guess was.
    const token_entry* find(std::string_view token) const;
    const std::vector<token_entry>& entries() const { return entries_; }

private:
    std::vector<token_entry> entries_;
};

/// SHA-256 of `data` (OpenSSL).
digest sha256(std::string_view data);
/// Equality of two equally long byte strings in time that depends only on their length.
bool constant_time_equal(std::string_view a, std::string_view b);
/// A new token: "pfo3_" and 32 random bytes (OpenSSL's CSPRNG) in base64url without padding.
std::string make_token();
/// True for 1-64 characters of [A-Za-z0-9._@-].
bool is_valid_principal_name(std::string_view name);

/// Parses a tokens file's text. Blank lines and lines starting with '#' are skipped. Throws
/// config_error "SOURCE:LINE: ..." for a malformed line or a name used twice; never quotes a
/// hash or anything after the name.
std::vector<token_entry> parse_tokens(std::string_view text, std::string_view source);
/// The line of one entry, without '\n': "NAME SCOPES sha256:HEX".
std::string format_entry(const token_entry& e);

/// Reads and parses the file at `path` (config_error naming the path when unreadable).
std::vector<token_entry> load_tokens_file(const std::string& path);
/// Appends a new entry for `name` to the file (created with mode 0600 when missing) and returns
/// the token, which is never stored. config_error if `name` is taken or invalid.
std::string add_token(const std::string& path, std::string_view name, scope_set scopes);
/// Removes `name`'s line, replacing the file atomically (mode 0600). False if there was none.
bool revoke_token(const std::string& path, std::string_view name);

/// The first line of a file holding a token (for clients' --token-file), without its line end
/// and surrounding blanks; config_error naming the path (never the content) when it is missing,
/// unreadable or empty.
std::string read_token_file(const std::string& path);

}  // namespace pfo3::auth
