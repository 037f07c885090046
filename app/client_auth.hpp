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
#include "pfo3/net/server.hpp"
#include "pfo3/queue/amqp_url.hpp"
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

namespace pfo3::app {

/// The client flags about credentials; never the token itself on a command line.
struct client_auth_options {
    std::optional<std::string> token_file;
    bool tls = false;
    std::string ca_file, cert_file, key_file, server_name;
};

/// Registers --token-file on a client subcommand.
void add_client_auth_options(CLI::App* cmd, client_auth_options& opts);
/// The connection options of a client: its token from --token-file, else $PFO3_TOKEN, else none.
net::client_options client_options_of(const client_auth_options& opts);

/// The policy serve enforces ([auth]); null for mode none. Throws config_error when the listen
/// address is reachable from other hosts and nothing protects it, or when the tokens file is bad.
std::shared_ptr<const auth::policy> serve_policy_of(const config::settings& s);
/// [serve.tls] as the server's TLS options.
net::server_tls_options serve_tls_of(const config::settings& s);

/// On SIGHUP: reads the tokens file and the TLS files again for new connections; a broken file
/// keeps what is in use and the log says why. Lives on serve's I/O thread.
class credential_reloader {
public:
    /// `on_policy` (may be empty) also gets each reloaded policy (the HTTP listener's gate).
    credential_reloader(boost::asio::io_context& io, net::server& server, config::settings s,
                        std::function<void(std::shared_ptr<const auth::policy>)> on_policy = {});
    credential_reloader(const credential_reloader&) = delete;
    credential_reloader& operator=(const credential_reloader&) = delete;
    /// Stops listening for SIGHUP (at shutdown, so io.run() can return).
    void stop();

private:
    void arm();
    net::server& server_;
    config::settings settings_;
    std::function<void(std::shared_ptr<const auth::policy>)> on_policy_;
    boost::asio::signal_set signals_;
};

}  // namespace pfo3::app
