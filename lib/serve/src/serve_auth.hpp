#pragma once
// Who serve lets in: [auth] and [serve.tls] as the server's policy and TLS options, and the
// SIGHUP reload of both (docs/security.md).
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <memory>

#include "pfo3/auth/policy.hpp"
#include "pfo3/config/settings.hpp"
#include "pfo3/net/server.hpp"

namespace pfo3::serve {

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

}  // namespace pfo3::serve
