#include <catch2/catch.hpp>

#include <string>

#include "pfo3/core/error.hpp"
#include "s3_uri.hpp"

using pfo3::config_error;
using pfo3::store::s3_location;
using pfo3::store::s3_uri_encode;

namespace {

// The message of the config_error parsing `uri` throws ("" if it does not throw).
std::string parse_error(const std::string& uri) {
    try {
        s3_location::parse(uri);
    } catch (const config_error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("an s3 URI with an endpoint is parsed into bucket, prefix, endpoint and region", "[s3_uri]") {
    auto loc = s3_location::parse("s3://results/pfo3/prod?endpoint=http://127.0.0.1:9000&region=eu-west-1");
    CHECK(loc.bucket == "results");
    CHECK(loc.prefix == "pfo3/prod");
    CHECK(loc.endpoint == "http://127.0.0.1:9000");
    CHECK(loc.region == "eu-west-1");
    CHECK(loc.path_style);
}

TEST_CASE("without an endpoint the store is AWS in us-east-1, virtual-host style", "[s3_uri]") {
    auto loc = s3_location::parse("s3://my-bucket");
    CHECK(loc.bucket == "my-bucket");
    CHECK(loc.prefix.empty());
    CHECK(loc.endpoint.empty());
    CHECK(loc.region == "us-east-1");
    CHECK_FALSE(loc.path_style);
}

TEST_CASE("path_style overrides the default either way", "[s3_uri]") {
    CHECK(s3_location::parse("s3://b-1/p?path_style=true").path_style);
    CHECK_FALSE(s3_location::parse("s3://b-1/p?endpoint=https://minio.example:9000&path_style=false").path_style);
}

TEST_CASE("the prefix loses outer slashes and is percent-decoded", "[s3_uri]") {
    CHECK(s3_location::parse("s3://bkt/").prefix.empty());
    CHECK(s3_location::parse("s3://bkt//a/b//").prefix == "a/b");
    CHECK(s3_location::parse("s3://bkt/my%20results/x").prefix == "my results/x");
}

TEST_CASE("query values are percent-decoded and a trailing slash of the endpoint is dropped", "[s3_uri]") {
    auto loc = s3_location::parse("s3://bkt/p?endpoint=http%3A%2F%2Fs3.local%3A9000%2F&region=us-west-2");
    CHECK(loc.endpoint == "http://s3.local:9000");
    CHECK(loc.region == "us-west-2");
}

TEST_CASE("object keys sit under the prefix", "[s3_uri]") {
    CHECK(s3_location::parse("s3://bkt/a/b").key("ID.json") == "a/b/ID.json");
    CHECK(s3_location::parse("s3://bkt").key("ID.json") == "ID.json");
}

TEST_CASE("object URLs for both styles, AWS and a custom endpoint", "[s3_uri]") {
    SECTION("AWS virtual-host style") {
        auto loc = s3_location::parse("s3://my-bucket/res?region=eu-central-1");
        CHECK(loc.object_url("res/x.json") == "https://my-bucket.s3.eu-central-1.amazonaws.com/res/x.json");
    }
    SECTION("AWS path style") {
        auto loc = s3_location::parse("s3://my-bucket/res?path_style=true");
        CHECK(loc.object_url("res/x.json") == "https://s3.us-east-1.amazonaws.com/my-bucket/res/x.json");
    }
    SECTION("endpoint, path style") {
        auto loc = s3_location::parse("s3://bkt/res?endpoint=http://127.0.0.1:9100");
        CHECK(loc.object_url("res/x.json") == "http://127.0.0.1:9100/bkt/res/x.json");
    }
    SECTION("endpoint with a base path, path style") {
        auto loc = s3_location::parse("s3://bkt?endpoint=https://gw.example/s3/");
        CHECK(loc.object_url("x.json") == "https://gw.example/s3/bkt/x.json");
    }
    SECTION("endpoint, virtual-host style") {
        auto loc = s3_location::parse("s3://bkt/res?endpoint=https://storage.example:8443&path_style=false");
        CHECK(loc.object_url("res/x.json") == "https://bkt.storage.example:8443/res/x.json");
    }
}

TEST_CASE("keys are encoded segment by segment: ids stay readable, ':' and spaces are escaped", "[s3_uri]") {
    auto loc = s3_location::parse("s3://bkt/my results/2024?endpoint=http://127.0.0.1:9100");
    CHECK(loc.object_url(loc.key("0190b5e2-7d3c-7abc-8def-0123456789ab.json")) ==
          "http://127.0.0.1:9100/bkt/my%20results/2024/0190b5e2-7d3c-7abc-8def-0123456789ab.json");
    CHECK(loc.object_url(loc.key("job:42_a.b.json")) == "http://127.0.0.1:9100/bkt/my%20results/2024/job%3A42_a.b.json");
}

TEST_CASE("s3_uri_encode keeps unreserved characters and encodes everything else as %XX", "[s3_uri]") {
    CHECK(s3_uri_encode("AZaz09-._~", false) == "AZaz09-._~");
    CHECK(s3_uri_encode("a/b c", true) == "a/b%20c");
    CHECK(s3_uri_encode("a/b c", false) == "a%2Fb%20c");
    CHECK(s3_uri_encode("é+=&?#%", false) == "%C3%A9%2B%3D%26%3F%23%25");
}

TEST_CASE("describe gives back a URI that parses to the same location", "[s3_uri]") {
    for (std::string uri : {"s3://bkt/a%20b/c?endpoint=http://127.0.0.1:9100&region=us-east-1",
                            "s3://bkt?region=eu-west-1", "s3://bkt/p?endpoint=https://h.example&path_style=false"}) {
        auto loc = s3_location::parse(uri);
        auto again = s3_location::parse(loc.describe());
        CHECK(again.bucket == loc.bucket);
        CHECK(again.prefix == loc.prefix);
        CHECK(again.endpoint == loc.endpoint);
        CHECK(again.region == loc.region);
        CHECK(again.path_style == loc.path_style);
    }
    CHECK(s3_location::parse("s3://bkt/p?endpoint=http://127.0.0.1:9100").describe() ==
          "s3://bkt/p?endpoint=http://127.0.0.1:9100&region=us-east-1");
}

TEST_CASE("bad s3 URIs are refused with a message that names the problem", "[s3_uri]") {
    CHECK_THAT(parse_error("s3:///prefix"), Catch::Contains("no bucket"));
    CHECK_THAT(parse_error("s3://bad*bucket/p"), Catch::Contains("bucket name"));
    CHECK_THAT(parse_error("s3://bkt/a//b"), Catch::Contains("empty segment"));
    CHECK_THAT(parse_error("s3://bkt/a/../b"), Catch::Contains("'..'"));
    CHECK_THAT(parse_error("s3://bkt/a%2"), Catch::Contains("%-escape"));
    CHECK_THAT(parse_error("s3://bkt/a%0Ab"), Catch::Contains("control character"));
    CHECK_THAT(parse_error("s3://bkt/p#frag"), Catch::Contains("fragment"));
    CHECK_THAT(parse_error("s3://bkt?endpoint=ftp://h"), Catch::Contains("http:// or https://"));
    CHECK_THAT(parse_error("s3://bkt?endpoint=http://"), Catch::Contains("no host"));
    CHECK_THAT(parse_error("s3://bkt?region=US_EAST"), Catch::Contains("region"));
    CHECK_THAT(parse_error("s3://bkt?path_style=yes"), Catch::Contains("true or false"));
    CHECK_THAT(parse_error("s3://bkt?region=a&region=b"), Catch::Contains("twice"));
    CHECK_THAT(parse_error("s3://bkt?endpoint"), Catch::Contains("needs a value"));
    CHECK_THAT(parse_error("s3://Upper_Case/p"), Catch::Contains("DNS-compatible"));
    CHECK_THAT(parse_error("s3://bkt/p?endpoint=http://127.0.0.1:9000&path_style=false"),
               Catch::Contains("not an IP address"));
    CHECK(parse_error(std::string(300, 'b').insert(0, "s3://")).find("255") != std::string::npos);
    CHECK(parse_error("s3://bkt/" + std::string(900, 'p')).find("longer than") != std::string::npos);
    // Path style allows what DNS would not.
    CHECK(parse_error("s3://Upper_Case/p?endpoint=http://127.0.0.1:9000").empty());
}

TEST_CASE("errors never repeat a secret from the URI", "[s3_uri]") {
    auto with_userinfo = parse_error("s3://AKIAEXAMPLE:topsecret@bkt/p");
    CHECK_THAT(with_userinfo, Catch::Contains("AWS_ACCESS_KEY_ID"));
    CHECK(with_userinfo.find("topsecret") == std::string::npos);

    auto unknown = parse_error("s3://bkt/p?secret_key=topsecret&region=us-east-1");
    CHECK_THAT(unknown, Catch::Contains("unknown parameter 'secret_key'"));
    CHECK(unknown.find("topsecret") == std::string::npos);

    auto bad_value = parse_error("s3://bkt/p?endpoint=http://user:topsecret@h:9000");
    CHECK_THAT(bad_value, Catch::Contains("without credentials"));
    CHECK(bad_value.find("topsecret") == std::string::npos);
}

TEST_CASE("ca_file names the CAs an https endpoint is verified against, and survives describe", "[s3_uri]") {
    auto loc = s3_location::parse("s3://bkt/p?endpoint=https://127.0.0.1:9443&ca_file=/etc/pfo3/s3%20ca.pem");
    CHECK(loc.ca_file == "/etc/pfo3/s3 ca.pem");
    CHECK(loc.describe() == "s3://bkt/p?endpoint=https://127.0.0.1:9443&region=us-east-1&ca_file=/etc/pfo3/s3%20ca.pem");
    CHECK(s3_location::parse(loc.describe()).ca_file == loc.ca_file);
    CHECK(s3_location::parse("s3://bkt/p").ca_file.empty());
    // AWS itself is https: a private CA may stand in front of it (a TLS-inspecting proxy).
    CHECK(s3_location::parse("s3://bkt/p?ca_file=/etc/ssl/proxy.pem").ca_file == "/etc/ssl/proxy.pem");
}

TEST_CASE("ca_file must be absolute and is refused with a plain http endpoint", "[s3_uri]") {
    CHECK_THAT(parse_error("s3://bkt/p?endpoint=https://h.example&ca_file=ca.pem"),
               Catch::Contains("ca_file must be an absolute path"));
    CHECK_THAT(parse_error("s3://bkt/p?endpoint=https://h.example&ca_file="), Catch::Contains("absolute path"));
    CHECK_THAT(parse_error("s3://bkt/p?endpoint=http://h.example&ca_file=/ca.pem"),
               Catch::Contains("ca_file needs an https:// endpoint"));
    CHECK_THAT(parse_error("s3://bkt/p?ca_file=/a.pem&ca_file=/b.pem"), Catch::Contains("twice"));
}
