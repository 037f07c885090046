#pragma once
// Who a client (send, status, cancel, dead, bench, workers) says it is and how it checks the
// server: the flags about credentials as client_options. Never the token on a command line.
#include <optional>
#include <string>

#include "pfo3/net/client.hpp"

namespace pfo3::net {

/// The client flags about credentials (--token-file, --tls, --ca-file, --cert-file, --key-file,
/// --server-name).
struct client_auth {
    std::optional<std::string> token_file;
    bool tls = false;
    std::string ca_file, cert_file, key_file, server_name;
};

/// The token to send: the first line of `token_file` if given, else $PFO3_TOKEN, else empty.
/// Throws config_error for a token file that cannot be read.
std::string client_token(const std::optional<std::string>& token_file);

/// The connection options of a client: client_token(), and TLS when --tls, --ca-file or
/// --cert-file is given.
client_options client_options_of(const client_auth& a);

}  // namespace pfo3::net
