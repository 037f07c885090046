#include "s3_uri.hpp"

#include <optional>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "s3_keys.hpp"

namespace pfo3::store {

namespace {

constexpr std::string_view scheme = "s3://";
// S3 keys are at most 1024 bytes; leave room for "/" + a 128-character id + ".json".
constexpr std::size_t max_prefix_bytes = 880;

bool is_alnum(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_lower_alnum(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Thrown for every mistake in the URI: the text shown stops before the query, whose values
// are not ours to repeat, and masks a password someone put in the authority.
class uri_checker {
public:
    explicit uri_checker(std::string_view uri) : shown_(log::mask_url(uri.substr(0, uri.find('?')))) {}

    [[noreturn]] void fail(const std::string& problem) const {
        throw config_error("store URI '" + shown_ + "': " + problem);
    }

    std::string decode(std::string_view s, std::string_view what) const {
        std::string out;
        out.reserve(s.size());
        for (std::size_t i = 0; i < s.size(); ++i) {
            char c = s[i];
            if (c == '%') {
                int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
                int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
                if (hi < 0 || lo < 0) fail(std::string(what) + " has a malformed %-escape");
                c = static_cast<char>(hi * 16 + lo);
                i += 2;
            }
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                fail(std::string(what) + " contains a control character");
            out += c;
        }
        return out;
    }

private:
    std::string shown_;
};

bool is_ip_literal(std::string_view host) noexcept {
    if (!host.empty() && host.front() == '[') return true;
    for (char c : host)
        if (!((c >= '0' && c <= '9') || c == '.')) return false;
    return !host.empty();
}

// The host part of "scheme://host[:port][/path]", without the port.
std::string_view endpoint_host(std::string_view endpoint) {
    auto start = endpoint.find("://") + 3;
    auto end = endpoint.find('/', start);
    auto authority = endpoint.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!authority.empty() && authority.front() == '[') return authority.substr(0, authority.find(']') + 1);
    return authority.substr(0, authority.find(':'));
}

void check_bucket(const uri_checker& check, std::string_view bucket) {
    if (bucket.empty()) check.fail("no bucket: use s3://BUCKET/PREFIX");
    if (bucket.size() > 255) check.fail("the bucket name is longer than 255 characters");
    for (char c : bucket)
        if (!is_alnum(c) && c != '.' && c != '-' && c != '_')
            check.fail("the bucket name may only contain letters, digits, '.', '-' and '_'");
}

// Virtual-host style puts the bucket into a host name, so it must be a DNS label sequence.
void check_dns_bucket(const uri_checker& check, std::string_view bucket) {
    bool ok = bucket.size() >= 3 && bucket.size() <= 63 && is_lower_alnum(bucket.front()) &&
              is_lower_alnum(bucket.back()) && bucket.find("..") == std::string_view::npos;
    for (char c : bucket) ok = ok && (is_lower_alnum(c) || c == '.' || c == '-');
    if (!ok)
        check.fail("virtual-host style needs a DNS-compatible bucket name (3-63 of a-z 0-9 . -); "
                   "use path_style=true with an endpoint");
}

std::string check_prefix(const uri_checker& check, std::string_view raw) {
    std::string prefix = check.decode(raw, "the prefix");
    while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (prefix.size() > max_prefix_bytes)
        check.fail("the prefix is longer than " + std::to_string(max_prefix_bytes) + " bytes");
    std::size_t start = 0;
    while (!prefix.empty() && start <= prefix.size()) {
        auto end = prefix.find('/', start);
        if (end == std::string::npos) end = prefix.size();
        auto segment = std::string_view(prefix).substr(start, end - start);
        if (segment.empty()) check.fail("the prefix has an empty segment ('//')");
        // HTTP clients and servers normalise these away, so the key would not be the one named.
        if (segment == "." || segment == "..") check.fail("the prefix has a '.' or '..' segment");
        start = end + 1;
    }
    return prefix;
}

std::string check_endpoint(const uri_checker& check, std::string endpoint) {
    if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://"))
        check.fail("endpoint must start with http:// or https://");
    if (endpoint.find_first_of("?#@ ") != std::string::npos)
        check.fail("endpoint must be scheme://host[:port][/path], without credentials, query or fragment");
    auto scheme_end = endpoint.find("://") + 3;
    while (endpoint.size() > scheme_end && endpoint.back() == '/') endpoint.pop_back();
    if (endpoint_host(endpoint).empty()) check.fail("endpoint has no host");
    return endpoint;
}

// The roles may run in another directory than the one the URI was written in, and the file is
// read at every new connection: only an absolute path means the same file everywhere.
std::string check_ca_file(const uri_checker& check, std::string path, std::string_view endpoint) {
    if (path.empty() || path.front() != '/') check.fail("ca_file must be an absolute path");
    if (!endpoint.empty() && !endpoint.starts_with("https://"))
        check.fail("ca_file needs an https:// endpoint (plain http is not verified at all)");
    return path;
}

std::string check_region(const uri_checker& check, std::string region) {
    bool ok = !region.empty() && region.size() <= 64;
    for (char c : region) ok = ok && (is_lower_alnum(c) || c == '-');
    if (!ok) check.fail("region must be an AWS region name such as us-east-1 (a-z 0-9 -)");
    return region;
}

}  // namespace

std::string s3_uri_encode(std::string_view s, bool keep_slash) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() + s.size() / 4);
    for (char c : s) {
        if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            out += c;
        } else {
            auto b = static_cast<unsigned char>(c);
            out += '%';
            out += hex[b >> 4];
            out += hex[b & 15];
        }
    }
    return out;
}

bool is_s3_uri(std::string_view uri) noexcept { return uri.starts_with(scheme); }

s3_location s3_location::parse(std::string_view uri) {
    uri_checker check(uri);
    if (!uri.starts_with(scheme)) check.fail("not an s3:// URI");
    auto rest = uri.substr(scheme.size());
    if (rest.find('#') != std::string_view::npos) check.fail("a fragment ('#') is not allowed");
    auto q = rest.find('?');
    auto path = rest.substr(0, q);
    auto query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);

    auto slash = path.find('/');
    auto authority = path.substr(0, slash);
    if (authority.find('@') != std::string_view::npos)
        check.fail("credentials do not belong in the URI; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");

    s3_location loc;
    loc.bucket = std::string(authority);
    check_bucket(check, loc.bucket);
    if (slash != std::string_view::npos) loc.prefix = check_prefix(check, path.substr(slash + 1));

    std::optional<std::string> endpoint, region, path_style, ca_file;
    while (!query.empty()) {
        auto amp = query.find('&');
        auto item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        auto name = check.decode(item.substr(0, eq), "a parameter name");
        std::optional<std::string>* slot = name == "endpoint"     ? &endpoint
                                           : name == "region"     ? &region
                                           : name == "path_style" ? &path_style
                                           : name == "ca_file"    ? &ca_file
                                                                  : nullptr;
        // Only the name is shown: an unknown parameter may well be a misplaced secret.
        if (!slot) check.fail("unknown parameter '" + name.substr(0, 40) + "' (known: endpoint, region, path_style, ca_file)");
        if (eq == std::string_view::npos) check.fail("parameter '" + name + "' needs a value");
        if (*slot) check.fail("parameter '" + name + "' is given twice");
        *slot = check.decode(item.substr(eq + 1), "parameter '" + name + "'");
    }

    if (endpoint) loc.endpoint = check_endpoint(check, *endpoint);
    if (region) loc.region = check_region(check, *region);
    if (ca_file) loc.ca_file = check_ca_file(check, std::move(*ca_file), loc.endpoint);
    loc.path_style = !loc.endpoint.empty();
    if (path_style) {
        if (*path_style == "true")
            loc.path_style = true;
        else if (*path_style == "false")
            loc.path_style = false;
        else
            check.fail("path_style must be true or false");
    }
    if (!loc.path_style) {
        check_dns_bucket(check, loc.bucket);
        if (!loc.endpoint.empty() && is_ip_literal(endpoint_host(loc.endpoint)))
            check.fail("virtual-host style needs an endpoint with a host name, not an IP address; "
                       "use path_style=true");
    }
    return loc;
}

std::string s3_location::key(std::string_view name) const {
    if (prefix.empty()) return std::string(name);
    std::string k = prefix;
    k += '/';
    k += name;
    return k;
}

std::string s3_location::object_url(std::string_view object_key) const {
    std::string encoded = s3_uri_encode(object_key, true);
    if (endpoint.empty()) {
        if (path_style) return "https://s3." + region + ".amazonaws.com/" + bucket + "/" + encoded;
        return "https://" + bucket + ".s3." + region + ".amazonaws.com/" + encoded;
    }
    if (path_style) return endpoint + "/" + bucket + "/" + encoded;
    auto host_at = endpoint.find("://") + 3;
    return endpoint.substr(0, host_at) + bucket + "." + endpoint.substr(host_at) + "/" + encoded;
}

std::string s3_location::describe() const {
    std::string s = "s3://" + bucket;
    if (!prefix.empty()) s += "/" + s3_uri_encode(prefix, true);
    char sep = '?';
    if (!endpoint.empty()) {
        s += sep + std::string("endpoint=") + endpoint;
        sep = '&';
    }
    s += sep + std::string("region=") + region;
    if (path_style != !endpoint.empty()) s += std::string("&path_style=") + (path_style ? "true" : "false");
    if (!ca_file.empty()) s += "&ca_file=" + s3_uri_encode(ca_file, true);
    return s;
}

}  // namespace pfo3::store
