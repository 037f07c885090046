#include "serve_auth.hpp"

#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/net/client.hpp"

namespace pfo3::serve {

std::shared_ptr<const auth::policy> serve_policy_of(const config::settings& s) {
    const auto& a = s.auth;
    const auto host = net::split_host_port(s.serve.listen, "serve.listen").first;
    const auto m = auth::mode_named(a.mode);
    if (!m) throw config_error("auth.mode: unknown mode \"" + a.mode + "\"");
    if (auto problem = auth::exposure_problem(host, *m, a.allow_anonymous_network)) throw config_error(*problem);
    if (*m == auth::mode::mtls && s.serve.tls.client_cert == "none")
        throw config_error("auth.mode \"mtls\" needs client certificates: set [serve.tls] mode, client_ca_file and "
                           "client_cert = \"required\" (or \"optional\")");
    if (*m == auth::mode::none) return nullptr;
    auto p = auth::make_policy(a.mode, a.tokens_file, a.anonymous_from, a.anonymous_scopes,
                               std::chrono::milliseconds(a.failure_delay_ms), static_cast<std::size_t>(a.max_failures),
                               a.clients);
    PFO3_LOG(info, "client port protected",
             {{"auth_mode", a.mode},
              {"tokens", std::to_string(p->options().tokens.entries().size())},
              {"anonymous_from", std::to_string(a.anonymous_from.size())}});
    return p;
}

net::server_tls_options serve_tls_of(const config::settings& s) {
    const auto& t = s.serve.tls;
    net::server_tls_options o;
    o.mode = t.mode == "required" ? net::tls_mode::required : t.mode == "optional" ? net::tls_mode::optional : net::tls_mode::off;
    o.cert_file = t.cert_file;
    o.key_file = t.key_file;
    o.tls13_only = t.min_version == "1.3";
    o.handshake_timeout = std::chrono::milliseconds(t.handshake_timeout_ms);
    o.client_ca_file = t.client_ca_file;
    o.client_cert = t.client_cert == "required"   ? net::client_cert_mode::required
                    : t.client_cert == "optional" ? net::client_cert_mode::optional
                                                  : net::client_cert_mode::none;
    return o;
}

credential_reloader::credential_reloader(boost::asio::io_context& io, net::server& server, config::settings s,
                                         std::function<void(std::shared_ptr<const auth::policy>)> on_policy)
    : server_(server), settings_(std::move(s)), on_policy_(std::move(on_policy)), signals_(io, SIGHUP) {
    arm();
}

void credential_reloader::stop() {
    boost::system::error_code ignored;
    signals_.cancel(ignored);
}

void credential_reloader::arm() {
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec) return;
        PFO3_LOG(info, "SIGHUP: reloading tokens and TLS files for new connections");
        server_.reload_tls();
        try {
            auto policy = serve_policy_of(settings_);
            server_.set_policy(policy);
            if (on_policy_) on_policy_(std::move(policy));
        } catch (const std::exception& e) {
            PFO3_LOG(error, "tokens reload failed; new connections keep the previous tokens", {{"error", e.what()}});
        }
        arm();
    });
}

}  // namespace pfo3::serve
