#include <catch2/catch.hpp>

#include "pfo3/auth/policy.hpp"

using namespace pfo3::auth;

namespace {

std::shared_ptr<const policy> token_policy(std::vector<std::string> anonymous_from = {}) {
    policy_options o;
    o.mode = mode::token;
    token_entry alice{"alice", {}, sha256("alice-token")};
    alice.scopes.add(scope::submit);
    token_entry root{"root", scope_set::all(), sha256("root-token")};
    o.tokens = token_table({alice, root});
    for (const auto& text : anonymous_from) {
        std::string why;
        o.anonymous_from.push_back(*cidr::parse(text, why));
    }
    o.anonymous_scopes.add(scope::status);
    o.max_failures = 3;
    return std::make_shared<const policy>(std::move(o));
}

}  // namespace

TEST_CASE("before authenticating only ping passes, and auth with a good token sets the principal") {
    gate g(token_policy(), "10.0.0.1");
    CHECK(g.authorize(std::nullopt, "").what == verdict::allowed);
    CHECK(g.authorize(scope::submit, "").what == verdict::unauthorized);
    auto d = g.authenticate("alice-token");
    REQUIRE(d.what == verdict::allowed);
    CHECK(d.who->name == "alice");
    CHECK(g.authorize(scope::submit, "").what == verdict::allowed);
    auto refused = g.authorize(scope::admin, "");
    CHECK(refused.what == verdict::forbidden);
    CHECK(refused.message == "alice may not do this: it needs scope \"admin\" and has submit");
}

TEST_CASE("a wrong token is unauthorized and failures exhaust the gate") {
    gate g(token_policy(), "10.0.0.1");
    CHECK(g.authenticate("nope").what == verdict::unauthorized);
    CHECK_FALSE(g.exhausted());
    CHECK(g.authorize(scope::status, "").what == verdict::unauthorized);
    CHECK_FALSE(g.exhausted());
    g.authenticate("alice-token");
    CHECK(g.authorize(scope::status, "").what == verdict::forbidden);  // forbidden counts too
    CHECK(g.exhausted());
}

TEST_CASE("a request's own token counts for that request only") {
    gate g(token_policy(), "10.0.0.1");
    CHECK(g.authorize(scope::admin, "root-token").what == verdict::allowed);
    CHECK(g.current() == nullptr);
    CHECK(g.authorize(scope::admin, "").what == verdict::unauthorized);
    g.authenticate("alice-token");
    CHECK(g.authorize(scope::admin, "root-token").what == verdict::allowed);  // overrides the connection's
    CHECK(g.authorize(scope::submit, "bad").what == verdict::unauthorized);
}

TEST_CASE("clients from anonymous_from get the anonymous scopes without a token") {
    gate inside(token_policy({"127.0.0.0/8"}), "127.0.0.1");
    REQUIRE(inside.current() != nullptr);
    CHECK(inside.current()->name == "anonymous@127.0.0.0/8");
    CHECK(inside.authorize(scope::status, "").what == verdict::allowed);
    CHECK(inside.authorize(scope::submit, "").what == verdict::forbidden);
    gate outside(token_policy({"127.0.0.0/8"}), "10.0.0.1");
    CHECK(outside.authorize(scope::status, "").what == verdict::unauthorized);
}

TEST_CASE("mode none lets everything through and mtls refuses tokens") {
    gate open(std::make_shared<const policy>(policy_options{}), "10.0.0.1");
    CHECK(open.authorize(scope::admin, "").what == verdict::allowed);
    CHECK(open.authenticate("anything").what == verdict::allowed);
    policy_options o;
    o.mode = mode::mtls;
    o.tokens = token_table({token_entry{"alice", scope_set::all(), sha256("t")}});
    gate certs_only(std::make_shared<const policy>(std::move(o)), "10.0.0.1");
    CHECK(certs_only.authenticate("t").what == verdict::unauthorized);
}

TEST_CASE("a non-loopback listen address with mode none is refused unless allowed explicitly") {
    CHECK(exposure_problem("127.0.0.1", mode::none, false) == std::nullopt);
    CHECK(exposure_problem("localhost", mode::none, false) == std::nullopt);
    auto p = exposure_problem("0.0.0.0", mode::none, false);
    REQUIRE(p);
    CHECK(p->find("allow_anonymous_network = true") != std::string::npos);
    CHECK(p->find("mode = \"token\"") != std::string::npos);
    CHECK(exposure_problem("0.0.0.0", mode::none, true) == std::nullopt);
    CHECK(exposure_problem("0.0.0.0", mode::token, false) == std::nullopt);
}

TEST_CASE("scope lists parse by name and print in a fixed order") {
    std::string why;
    auto s = parse_scopes("status,submit", why);
    REQUIRE(s);
    CHECK(s->to_string() == "submit,status");
    CHECK_FALSE(parse_scopes("submit,,status", why));
    CHECK_FALSE(parse_scopes("", why));
    CHECK_FALSE(parse_scopes("root", why));
    CHECK(why.find("unknown scope \"root\"") == 0);
    CHECK(scope_set::all().to_string() == "submit,status,admin,metrics");
}

TEST_CASE("a verified certificate's subject maps to its scopes in mtls and any, never in token mode") {
    auto with_clients = [](mode m) {
        policy_options o;
        o.mode = m;
        scope_set s;
        s.add(scope::status);
        o.clients.emplace("CN=svc-client", s);
        return std::make_shared<const policy>(std::move(o));
    };
    gate mapped(with_clients(mode::mtls), "10.0.0.1", "CN=svc-client");
    REQUIRE(mapped.current() != nullptr);
    CHECK(mapped.current()->name == "CN=svc-client");
    CHECK(mapped.authorize(scope::status, "").what == verdict::allowed);
    CHECK(mapped.authorize(scope::submit, "").what == verdict::forbidden);
    CHECK(gate(with_clients(mode::any), "10.0.0.1", "CN=svc-client").current() != nullptr);
    CHECK(gate(with_clients(mode::mtls), "10.0.0.1", "CN=other").current() == nullptr);
    CHECK(gate(with_clients(mode::mtls), "10.0.0.1", "").current() == nullptr);
    CHECK(gate(with_clients(mode::token), "10.0.0.1", "CN=svc-client").current() == nullptr);
}
