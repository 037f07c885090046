#include "pfo3/auth/tokens.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "pfo3/core/error.hpp"
#include "pfo3/core/unique_fd.hpp"

namespace pfo3::auth {

namespace {

constexpr std::string_view hash_prefix = "sha256:";
constexpr std::size_t max_name = 64;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<digest> parse_hex_digest(std::string_view hex) {
    digest d{};
    if (hex.size() != d.size() * 2) return std::nullopt;
    for (std::size_t i = 0; i < d.size(); ++i) {
        const int hi = hex_value(hex[2 * i]);
        const int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        d[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return d;
}

std::string to_hex(const digest& d) {
    constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(d.size() * 2);
    for (auto b : d) {
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

std::string errno_text() { return std::strerror(errno); }

std::string read_whole(const std::string& path, std::string_view what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error(std::string(what) + " " + path + ": cannot be read: " + errno_text());
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw config_error(std::string(what) + " " + path + ": read failed");
    return text.str();
}

// Writes `text` to `path` through a temporary file in the same directory, fsync and rename, so
// a reader (a serve reloading it) sees the old file or the new one, never half of either.
void replace_file(const std::string& path, const std::string& text) {
    std::string tmp = path + ".tmp.XXXXXX";
    unique_fd fd(::mkstemp(tmp.data()));
    if (!fd) throw config_error("tokens file " + path + ": cannot create a temporary file: " + errno_text());
    bool ok = ::fchmod(fd.get(), 0600) == 0;
    for (std::size_t done = 0; ok && done < text.size();) {
        const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd.get()) == 0;
    const std::string why = errno_text();
    fd.reset();
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string rename_why = ok ? errno_text() : why;
        ::unlink(tmp.c_str());
        throw config_error("tokens file " + path + ": cannot be written: " + rename_why);
    }
}

}  // namespace

digest sha256(std::string_view data) {
    digest d{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr) != 1 || len != d.size())
        throw error("SHA-256 failed (OpenSSL EVP_Digest)");
    return d;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

const token_entry* token_table::find(std::string_view token) const {
    const digest presented = sha256(token);
    const std::string_view p(reinterpret_cast<const char*>(presented.data()), presented.size());
    const token_entry* found = nullptr;
    // No early exit: every entry is compared whatever matched before.
    for (const auto& e : entries_) {
        const std::string_view h(reinterpret_cast<const char*>(e.hash.data()), e.hash.size());
        if (constant_time_equal(p, h) && !found) found = &e;
    }
    return found;
}

std::string make_token() {
    std::array<unsigned char, 32> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
        throw error("cannot make a token: OpenSSL RAND_bytes failed");
    constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out = "pfo3_";
    std::uint32_t acc = 0;
    int bits = 0;
    for (auto b : raw) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0) out += alphabet[(acc << (6 - bits)) & 0x3f];
    return out;
}

bool is_valid_principal_name(std::string_view name) {
    return !name.empty() && name.size() <= max_name && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '@' || c == '-';
    });
}

std::vector<token_entry> parse_tokens(std::string_view text, std::string_view source) {
    std::vector<token_entry> entries;
    std::set<std::string, std::less<>> names;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos || line[first] == '#') continue;
        auto fail = [&](const std::string& why) {
            throw config_error(std::string(source) + ":" + std::to_string(line_no) + ": " + why +
                               " (expected NAME SCOPES sha256:HEX)");
        };
        std::vector<std::string_view> fields;
        for (std::size_t pos = first; pos < line.size();) {
            const auto end = std::min(line.find_first_of(" \t", pos), line.size());
            fields.push_back(line.substr(pos, end - pos));
            pos = line.find_first_not_of(" \t", end);
            if (pos == std::string_view::npos) break;
        }
        if (fields.size() != 3) fail("a line needs three fields, this one has " + std::to_string(fields.size()));
        token_entry e;
        if (!is_valid_principal_name(fields[0]))
            fail("the name must be 1 to 64 characters of [A-Za-z0-9._@-]");
        e.name = std::string(fields[0]);
        std::string why;
        auto scopes = parse_scopes(fields[1], why);
        if (!scopes) fail(e.name + ": " + why);
        e.scopes = *scopes;
        if (!fields[2].starts_with(hash_prefix)) fail(e.name + ": the third field must start with sha256:");
        auto hash = parse_hex_digest(fields[2].substr(hash_prefix.size()));
        if (!hash) fail(e.name + ": the hash must be 64 hex digits after sha256:");
        e.hash = *hash;
        if (!names.insert(e.name).second) fail("the name " + e.name + " appears twice");
        entries.push_back(std::move(e));
    }
    return entries;
}

std::string format_entry(const token_entry& e) {
    return e.name + " " + e.scopes.to_string() + " " + std::string(hash_prefix) + to_hex(e.hash);
}

std::vector<token_entry> load_tokens_file(const std::string& path) {
    return parse_tokens(read_whole(path, "tokens file"), path);
}

std::string add_token(const std::string& path, std::string_view name, scope_set scopes) {
    if (!is_valid_principal_name(name))
        throw config_error("token name must be 1 to 64 characters of [A-Za-z0-9._@-]");
    if (scopes.empty()) throw config_error("a token needs at least one scope");
    std::string text;
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0) {
        text = read_whole(path, "tokens file");
        for (const auto& e : parse_tokens(text, path))
            if (e.name == name)
                throw config_error("tokens file " + path + ": " + std::string(name) +
                                   " already has a token; revoke it first (pfo3 token revoke " + std::string(name) + ")");
        if (!text.empty() && text.back() != '\n') text += '\n';
    } else if (errno != ENOENT) {
        throw config_error("tokens file " + path + ": " + errno_text());
    }
    token_entry e;
    e.name = std::string(name);
    e.scopes = scopes;
    std::string token = make_token();
    e.hash = sha256(token);
    replace_file(path, text + format_entry(e) + "\n");
    return token;
}

bool revoke_token(const std::string& path, std::string_view name) {
    const std::string text = read_whole(path, "tokens file");
    parse_tokens(text, path);  // a broken file is reported, not rewritten
    std::string kept;
    bool removed = false;
    std::string_view rest(text);
    while (!rest.empty()) {
        const auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl == std::string_view::npos ? rest.size() : nl + 1);
        rest.remove_prefix(line.size());
        const auto first = line.find_first_not_of(" \t");
        const bool is_entry = first != std::string_view::npos && line[first] != '#' && line[first] != '\n' &&
                              line[first] != '\r';
        if (is_entry) {
            const auto end = std::min(line.find_first_of(" \t", first), line.size());
            if (line.substr(first, end - first) == name) {
                removed = true;
                continue;
            }
        }
        kept += line;
    }
    if (removed) replace_file(path, kept);
    return removed;
}

std::string read_token_file(const std::string& path) {
    const std::string text = read_whole(path, "token file");
    std::string_view line(text);
    line = line.substr(0, line.find('\n'));
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) throw config_error("token file " + path + ": the first line is empty");
    const auto last = line.find_last_not_of(" \t\r");
    return std::string(line.substr(first, last - first + 1));
}

}  // namespace pfo3::auth
