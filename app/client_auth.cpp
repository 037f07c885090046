#include "client_auth.hpp"

#include <cstdlib>

#include "pfo3/auth/tokens.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"

namespace pfo3::app {

void add_client_auth_options(CLI::App* cmd, client_auth_options& opts) {
    cmd->add_option("--token-file", opts.token_file,
                    "file whose first line is the token to authenticate with (default: $PFO3_TOKEN)");
}

net::client_options client_options_of(const client_auth_options& opts) {
    net::client_options o;
    if (opts.token_file) {
        o.token = auth::read_token_file(*opts.token_file);
    } else if (const char* env = std::getenv("PFO3_TOKEN"); env && *env) {
        o.token = env;
    }
    return o;
}

std::shared_ptr<const auth::policy> serve_policy_of(const config::settings& s) {
    const auto& a = s.auth;
    const auto host = net::split_host_port(s.serve.listen, "serve.listen").first;
    const auto m = auth::mode_named(a.mode);
    if (!m) throw config_error("auth.mode: unknown mode \"" + a.mode + "\"");
    if (auto problem = auth::exposure_problem(host, *m, a.allow_anonymous_network)) throw config_error(*problem);
    if (*m == auth::mode::mtls)
        throw config_error("auth.mode \"mtls\" needs TLS with client certificates ([serve.tls]), which this build "
                           "does not have yet; use \"token\"");
    if (*m == auth::mode::none) return nullptr;
    auto p = auth::make_policy(a.mode, a.tokens_file, a.anonymous_from, a.anonymous_scopes,
                               std::chrono::milliseconds(a.failure_delay_ms), static_cast<std::size_t>(a.max_failures));
    PFO3_LOG(info, "client port protected",
             {{"auth_mode", a.mode},
              {"tokens", std::to_string(p->options().tokens.entries().size())},
              {"anonymous_from", std::to_string(a.anonymous_from.size())}});
    return p;
}

}  // namespace pfo3::app
