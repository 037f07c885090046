#pragma once
// Who the clients (send, status, bench) say they are, and who serve lets in: the glue between
// the settings and lib/auth / lib/net. Logic lives in lib/auth; this only wires it.
#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "pfo3/auth/policy.hpp"
#include "pfo3/config/settings.hpp"
#include "pfo3/net/client.hpp"

namespace pfo3::app {

/// The client flags about credentials; never the token itself on a command line.
struct client_auth_options {
    std::optional<std::string> token_file;
};

/// Registers --token-file on a client subcommand.
void add_client_auth_options(CLI::App* cmd, client_auth_options& opts);
/// The connection options of a client: its token from --token-file, else $PFO3_TOKEN, else none.
net::client_options client_options_of(const client_auth_options& opts);

/// The policy serve enforces ([auth]); null for mode none. Throws config_error when the listen
/// address is reachable from other hosts and nothing protects it, or when the tokens file is bad.
std::shared_ptr<const auth::policy> serve_policy_of(const config::settings& s);

}  // namespace pfo3::app
