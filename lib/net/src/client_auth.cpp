#include "pfo3/net/client_auth.hpp"

#include <cstdlib>

#include "pfo3/auth/tokens.hpp"

namespace pfo3::net {

std::string client_token(const std::optional<std::string>& token_file) {
    if (token_file) return auth::read_token_file(*token_file);
    if (const char* env = std::getenv("PFO3_TOKEN"); env && *env) return env;
    return {};
}

client_options client_options_of(const client_auth& a) {
    client_options o;
    o.token = client_token(a.token_file);
    o.tls.enabled = a.tls || !a.ca_file.empty() || !a.cert_file.empty();
    o.tls.ca_file = a.ca_file;
    o.tls.cert_file = a.cert_file;
    o.tls.key_file = a.key_file;
    o.tls.server_name = a.server_name;
    return o;
}

}  // namespace pfo3::net
