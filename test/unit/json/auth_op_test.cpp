// The auth op and the per-request "token" field (docs/protocol.md).
#include <catch2/catch.hpp>

#include "pfo3/json/protocol.hpp"

using namespace pfo3::json;
using pfo3::request_error;

TEST_CASE("op auth carries its token, and a missing, empty, long or non-string token is bad_request") {
    decoded d = decode_request(R"({"op":"auth","token":"pfo3_abc"})");
    REQUIRE(d.req);
    CHECK(d.req->kind == op::auth);
    CHECK(d.req->token == "pfo3_abc");
    for (const std::string& bad : {std::string(R"({"op":"auth"})"), std::string(R"({"op":"auth","token":""})"),
                                  std::string(R"({"op":"auth","token":7})"),
                                  R"({"op":"auth","token":")" + std::string(max_token_bytes + 1, 'a') + "\"}"}) {
        decoded r = decode_request(bad);
        INFO(bad);
        REQUIRE_FALSE(r.req);
        CHECK(r.error == request_error::bad_request);
        CHECK(r.message.find("aaaa") == std::string::npos);  // a token is never quoted back
    }
}

TEST_CASE("any request may carry its own token") {
    decoded d = decode_request(R"({"type":"echo","payload":1,"token":"t1"})");
    REQUIRE(d.req);
    CHECK(d.req->kind == op::submit);
    CHECK(d.req->token == "t1");
    decoded s = decode_request(R"({"op":"status","id":"a","token":"t2"})");
    REQUIRE(s.req);
    CHECK(s.req->token == "t2");
    decoded none = decode_request(R"({"op":"ping"})");
    REQUIRE(none.req);
    CHECK(none.req->token.empty());
}

TEST_CASE("the auth reply names the principal and its scopes") {
    CHECK(encode_authenticated("alice", {"submit", "status"}) ==
          "{\"ok\":true,\"op\":\"auth\",\"principal\":\"alice\",\"scopes\":[\"submit\",\"status\"]}\n");
    CHECK(encode_authenticated("x", {}) == "{\"ok\":true,\"op\":\"auth\",\"principal\":\"x\",\"scopes\":[]}\n");
}

TEST_CASE("forbidden and tls_required have wire codes") {
    CHECK(encode_rejected(request_error::forbidden, "no") ==
          "{\"ok\":false,\"error\":\"forbidden\",\"message\":\"no\"}\n");
    CHECK(encode_rejected(request_error::tls_required, "").find("\"error\":\"tls_required\"") != std::string::npos);
}
