#pragma once
// Where an S3 result store lives: s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=B&ca_file=F, and
// the object URLs that follow from it (path-style or virtual-host style). Pure: no I/O. Private
// to the store module.
#include <string>
#include <string_view>

namespace pfo3::store {

/// A parsed s3:// store URI. Values are plain (decoded) text; URLs are built by object_url().
struct s3_location {
    std::string bucket;
    std::string prefix;               ///< decoded key prefix without leading/trailing '/'; may be empty
    std::string endpoint;             ///< "scheme://host[:port][/path]" without trailing '/'; empty: AWS
    std::string region = "us-east-1";
    bool path_style = false;          ///< true: ENDPOINT/BUCKET/KEY; false: BUCKET.HOST/KEY
    std::string ca_file;              ///< absolute path of the CAs to verify https against; empty: the system's

    /// Parses `uri`. Defaults: region us-east-1; path_style true when an endpoint is given,
    /// else false (AWS virtual-host style); ca_file must be an absolute path and the endpoint
    /// https (or AWS's). Throws config_error naming the problem; the
    /// message never repeats query values or a password.
    static s3_location parse(std::string_view uri);

    /// The object key of `name` under the prefix ("results/ID.json").
    std::string key(std::string_view name) const;
    /// The URL of object `key`, each key segment URI-encoded as SigV4 expects.
    std::string object_url(std::string_view key) const;
    /// The store as a URI for logs (no credentials are ever part of it).
    std::string describe() const;
};

/// RFC 3986 percent-encoding of everything but unreserved characters (A-Z a-z 0-9 - . _ ~),
/// and of '/' too unless `keep_slash`: the encoding SigV4 canonical URIs use.
std::string s3_uri_encode(std::string_view s, bool keep_slash);

}  // namespace pfo3::store
