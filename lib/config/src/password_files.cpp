// apply_password_files: passwords read from files into the URLs, so none has to be written where
// `ps`, a unit file or a shared config shows it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/unique_fd.hpp"
#include "pfo3/core/url.hpp"

namespace pfo3::config {

namespace {

/// A first line longer than this is no password: refused rather than read on.
constexpr std::size_t max_password_bytes = 4096;

struct password_key {
    std::string_view key;      ///< "amqp.password_file"
    std::string_view url_key;  ///< "amqp.url"
};

[[noreturn]] void fail(const password_key& k, const std::string& path, std::string_view what) {
    throw config_error(std::string(k.key) + ": " + path + ": " + std::string(what));
}

// The first line of the file, without "\n" or "\r\n". Errors name the file, never its bytes.
std::string read_password(const password_key& k, const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) fail(k, path, std::string("cannot read: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
        PFO3_LOG(warn, "group or others may read the password file; chmod 600 it",
                 {{"key", k.key}, {"path", path}});
    std::string text;
    char buf[512];
    while (text.find('\n') == std::string::npos && text.size() <= max_password_bytes) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(k, path, std::string("cannot read: ") + std::strerror(errno));
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    text.erase(std::min(text.find('\n'), text.size()));
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.size() > max_password_bytes)
        fail(k, path, "the first line is longer than " + std::to_string(max_password_bytes) + " bytes");
    if (text.empty()) fail(k, path, "is empty (its first line is the password)");
    return text;
}

// libpq also takes ?password=...: it would win over the user information, so it goes.
std::string without_password_parameter(std::string url, std::size_t from) {
    const auto query = url.find('?', from);
    if (query == std::string::npos) return url;
    std::string kept;
    std::size_t at = query + 1;
    while (at <= url.size()) {
        auto end = std::min(url.find('&', at), url.size());
        auto item = std::string_view(url).substr(at, end - at);
        if (!item.starts_with("password=") && !item.empty()) {
            if (!kept.empty()) kept += '&';
            kept += item;
        }
        at = end + 1;
    }
    url.erase(kept.empty() ? query : query + 1);
    return url + kept;
}

// `url` with `password` (percent-encoded) as its user's password; with `query_too`, a
// password= query parameter goes (libpq would let it win over the user information).
std::string with_password(const password_key& k, const std::string& url, const std::string& path,
                          const std::string& password, bool query_too) {
    const auto u = find_userinfo(url);
    if (!u)
        fail(k, path,
             "needs a user name in " + std::string(k.url_key) + " (SCHEME://USER@HOST/...), got '" +
                 log::mask_url(url) + "'");
    const std::string encoded = percent_encode(password);
    if (u->has_password)
        PFO3_LOG(warn, "the password file replaces the password in the URL", {{"key", k.key}, {"url_key", k.url_key}});
    // Both ways the result is URL[..user_end) ":" ENCODED "@" and the rest.
    const std::string out = url.substr(0, u->user_end) + ":" + encoded + url.substr(u->at);
    if (!query_too) return out;
    const auto cleaned = without_password_parameter(out, u->user_end + 1 + encoded.size() + 1);
    if (cleaned.size() != out.size())
        PFO3_LOG(warn, "the password file replaces the password= parameter of the URL",
                 {{"key", k.key}, {"url_key", k.url_key}});
    return cleaned;
}

}  // namespace

void apply_password_files(settings& s) {
    if (!s.amqp.password_file.empty()) {
        const password_key k{"amqp.password_file", "amqp.url"};
        const std::string password = read_password(k, s.amqp.password_file);
        if (s.amqp.urls.empty()) s.amqp.url = with_password(k, s.amqp.url, s.amqp.password_file, password, false);
        // Every node of a cluster is reached as the same user (its users are cluster-wide).
        const password_key each{"amqp.password_file", "amqp.urls"};
        for (auto& url : s.amqp.urls) url = with_password(each, url, s.amqp.password_file, password, false);
    }
    if (!s.store.password_file.empty()) {
        const password_key k{"store.password_file", "store.uri"};
        if (!s.store.uri.starts_with("postgresql://") && !s.store.uri.starts_with("postgres://"))
            fail(k, s.store.password_file,
                 "applies to postgresql:// store URIs only, store.uri is '" + log::mask_url(s.store.uri) + "'");
        s.store.uri =
            with_password(k, s.store.uri, s.store.password_file, read_password(k, s.store.password_file), true);
    }
}

}  // namespace pfo3::config
