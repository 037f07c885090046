// Fuzzes what the auth layer reads from strangers: the auth op (and any request's "token")
// through decode_request and a connection's gate, tokens-file lines and anonymous_from ranges.
// Byte 0 picks the reader; the rest is its input. Also the server's first-byte detector.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "pfo3/auth/policy.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/net/tls.hpp"

namespace {

using pfo3::fuzz::check;
using pfo3::fuzz::is_json_line;
namespace auth = pfo3::auth;
namespace json = pfo3::json;

std::shared_ptr<const auth::policy> fixed_policy() {
    static const auto p = [] {
        auth::policy_options o;
        o.mode = auth::mode::token;
        auth::token_entry e{"alice", {}, auth::sha256("pfo3_good")};
        e.scopes.add(auth::scope::submit);
        o.tokens = auth::token_table({e});
        std::string why;
        o.anonymous_from.push_back(*auth::cidr::parse("10.0.0.0/8", why));
        o.anonymous_scopes.add(auth::scope::status);
        o.max_failures = 3;
        return std::make_shared<const auth::policy>(std::move(o));
    }();
    return p;
}

void fuzz_request(std::string_view bytes) {
    const json::decoded d = json::decode_request(bytes);
    if (!d.req) return;
    const json::request& req = *d.req;
    check(req.token.size() <= json::max_token_bytes, "a token longer than the bound was accepted");
    check(req.kind != json::op::auth || !req.token.empty(), "auth without a token was accepted");
    auth::gate g(fixed_policy(), "192.0.2.1");
    const auth::decision first = req.kind == json::op::auth ? g.authenticate(req.token)
                                                            : g.authorize(auth::scope::submit, req.token);
    const bool good = req.token == "pfo3_good";
    check((first.what == auth::verdict::allowed) == good, "a token was judged wrongly");
    if (first.what != auth::verdict::allowed) {
        check(!first.message.empty(), "a refusal without a message");
        // The message must not depend on the token (so it can never quote it): the refusal of
        // another wrong token reads the same. (Searching the message for the token fails on a
        // token that is a piece of the fixed text, such as "oken is n".)
        if (!req.token.empty()) {
            auth::gate other(fixed_policy(), "192.0.2.1");
            const std::string wrong = "pfo3_" + std::string(req.token.size() % 7 + 1, 'Z');
            const auth::decision second = req.kind == json::op::auth ? other.authenticate(wrong)
                                                                     : other.authorize(auth::scope::submit, wrong);
            check(second.message == first.message, "a refusal's message depends on the token");
        }
        check(is_json_line(json::encode_rejected(pfo3::request_error::unauthorized, first.message, d.id)),
              "a refusal is not one JSON line");
    } else {
        check(first.who && first.who->name == "alice", "allowed without the principal");
    }
    // Failures are counted: the third exhausts the gate.
    g.authorize(auth::scope::admin, "");
    g.authorize(auth::scope::admin, "");
    g.authorize(auth::scope::admin, "");
    check(g.exhausted(), "failures did not exhaust the gate");
}

void fuzz_tokens_file(std::string_view text) {
    std::vector<auth::token_entry> entries;
    try {
        entries = auth::parse_tokens(text, "fuzz");
    } catch (const pfo3::config_error&) {
        return;
    }
    std::string again;
    for (const auto& e : entries) again += auth::format_entry(e) + "\n";
    const auto reread = auth::parse_tokens(again, "fuzz-again");
    check(reread.size() == entries.size(), "a formatted tokens file reads back with another count");
    for (std::size_t i = 0; i < entries.size(); ++i)
        check(reread[i].name == entries[i].name && reread[i].scopes == entries[i].scopes &&
                  reread[i].hash == entries[i].hash,
              "a formatted entry reads back differently");
}

void fuzz_cidr(std::string_view text) {
    const auto slash = text.find('|');
    const std::string_view range = text.substr(0, slash);
    const std::string_view address = slash == std::string_view::npos ? std::string_view() : text.substr(slash + 1);
    std::string why;
    const auto c = auth::cidr::parse(range, why);
    if (!c) {
        check(!why.empty(), "a refused range without a reason");
        return;
    }
    const bool inside = c->contains(address);
    check(!inside || auth::parse_address(address).has_value(), "a non-address is inside a range");
    // The range holds its own network address when written as a bare address.
    if (range.find('/') == std::string_view::npos) check(c->contains(range), "an address is not inside itself");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // TLS is exactly a first byte of 0x16 (a handshake record); every other byte is plaintext.
    check(pfo3::net::is_tls_first_byte(data[0]) == (data[0] == 0x16), "the first-byte detector is wrong");
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
    case 0: fuzz_request(rest); break;
    case 1: fuzz_tokens_file(rest); break;
    default: fuzz_cidr(rest); break;
    }
    return 0;
}
