#include <catch2/catch.hpp>

#include <functional>
#include <vector>

#include "pfo3/auth/policy.hpp"
#include "pfo3/sight/dead_letter_cache.hpp"
#include "pfo3/sight/http_gate.hpp"
#include "pfo3/sight/serve_page.hpp"
#include "pfo3/sight/throughput.hpp"

using namespace pfo3;

namespace {

std::shared_ptr<const auth::policy> token_policy() {
    auth::policy_options o;
    o.mode = auth::mode::token;
    auth::token_entry viewer{"viewer", {}, auth::sha256("viewer-token")};
    viewer.scopes.add(auth::scope::status);
    o.tokens = auth::token_table({viewer, {"root", auth::scope_set::all(), auth::sha256("root-token")}});
    std::string why;
    o.anonymous_from.push_back(*auth::cidr::parse("10.9.0.0/16", why));
    o.anonymous_scopes.add(auth::scope::metrics);
    return std::make_shared<const auth::policy>(std::move(o));
}

http::request from(std::string peer, std::string authorization = {}) {
    http::request r;
    r.method = "GET";
    r.path = "/metrics";
    r.peer = std::move(peer);
    r.authorization = std::move(authorization);
    return r;
}

}  // namespace

TEST_CASE("the HTTP gate: loopback and mode none pass, elsewhere a token or address needs the scope") {
    const sight::http_gate open(nullptr);
    CHECK_FALSE(open.refuse(from("10.0.0.1"), auth::scope::metrics));
    const sight::http_gate gate(token_policy());
    CHECK_FALSE(gate.refuse(from("127.0.0.1"), auth::scope::admin));
    CHECK_FALSE(gate.refuse(from("::1"), auth::scope::admin));
    auto none = gate.refuse(from("10.0.0.1"), auth::scope::metrics);
    REQUIRE(none);
    CHECK(none->status == 401);
    CHECK(gate.refuse(from("10.0.0.1", "Bearer wrong"), auth::scope::metrics)->status == 401);
    CHECK(gate.refuse(from("10.0.0.1", "Bearer viewer-token"), auth::scope::metrics)->status == 403);
    CHECK_FALSE(gate.refuse(from("10.0.0.1", "Bearer viewer-token"), auth::scope::status));
    CHECK_FALSE(gate.refuse(from("10.0.0.1", "Bearer root-token"), auth::scope::admin));
    // anonymous_from gives its scopes without a token, and no more.
    CHECK_FALSE(gate.refuse(from("10.9.1.2"), auth::scope::metrics));
    CHECK(gate.refuse(from("10.9.1.2"), auth::scope::status)->status == 403);
}

TEST_CASE("html_escape leaves no markup") {
    CHECK(sight::html_escape("<img src=x onerror=\"alert('1')\">&") ==
          "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;");
}

TEST_CASE("a record for the page: ok dropped, a long result cut on a UTF-8 boundary and marked") {
    const std::string small = "{\"ok\":true,\"id\":\"a\",\"status\":\"done\",\"result\":[1,2],\"error\":null,\"attempts\":1}\n";
    CHECK(sight::record_for_page(small, 4096) ==
          "{\"id\":\"a\",\"status\":\"done\",\"result\":[1,2],\"error\":null,\"attempts\":1}\n");
    std::string long_result = "\"";
    for (int i = 0; i < 3000; ++i) long_result += "\xc3\xa9";  // é, two bytes
    long_result += "\"";
    const auto cut = sight::record_for_page("{\"ok\":true,\"id\":\"b\",\"result\":" + long_result + "}", 4096);
    CHECK(cut.find("\"result_cut\":true") != std::string::npos);
    CHECK(cut.size() < 4096 + 100);
    CHECK(cut.find("\\u") == std::string::npos);  // no broken sequence to escape
}

TEST_CASE("throughput keeps an hour of minutes and forgets older ones") {
    sight::throughput t;
    const auto base = std::chrono::system_clock::time_point(std::chrono::minutes(1000000));
    t.add(sight::throughput::series::accepted, 5, base);
    t.add(sight::throughput::series::done, 3, base + std::chrono::seconds(30));
    t.add(sight::throughput::series::dead, 1, base + std::chrono::minutes(59));
    auto j = t.json(base + std::chrono::minutes(59));
    CHECK(j.find("\"totals\":{\"accepted\":5,\"done\":3,\"retried\":0,\"dead\":1}") != std::string::npos);
    CHECK(j.find("\"accepted\":[5,0,") != std::string::npos);
    // An hour later the first minute's slot is reused: its counts are gone.
    t.add(sight::throughput::series::accepted, 2, base + std::chrono::minutes(60));
    j = t.json(base + std::chrono::minutes(60));
    CHECK(j.find("\"totals\":{\"accepted\":2,\"done\":0,\"retried\":0,\"dead\":1}") != std::string::npos);
}

TEST_CASE("the dead-letter cache asks once a period, never twice at once, and keeps the last good list") {
    std::vector<std::function<void(std::string)>> asked;
    sight::dead_letter_cache cache([&asked](std::function<void(std::string)> done) { asked.push_back(std::move(done)); },
                                   std::chrono::seconds(10));
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(cache.json() == "null");
    cache.tick(t0);
    REQUIRE(asked.size() == 1);
    cache.tick(t0 + std::chrono::seconds(20));  // still waiting for the first answer
    CHECK(asked.size() == 1);
    asked[0]("{\"ok\":true,\"op\":\"dead_list\",\"total\":1,\"letters\":[{\"id\":\"a\",\"error\":\"<b>\"}]}\n");
    CHECK(cache.json() == "[{\"id\":\"a\",\"error\":\"<b>\"}]");
    cache.tick(t0 + std::chrono::seconds(5));  // within the period
    CHECK(asked.size() == 1);
    cache.tick(t0 + std::chrono::seconds(11));
    REQUIRE(asked.size() == 2);
    asked[1]("{\"ok\":false,\"error\":\"unavailable\",\"message\":\"broker down\"}\n");
    CHECK(cache.json() == "[{\"id\":\"a\",\"error\":\"<b>\"}]");
    cache.tick(t0 + std::chrono::seconds(22));
    REQUIRE(asked.size() == 3);  // this answer never comes: asked again after six periods
    cache.tick(t0 + std::chrono::seconds(60));
    CHECK(asked.size() == 3);
    cache.tick(t0 + std::chrono::seconds(83));
    CHECK(asked.size() == 4);
}
