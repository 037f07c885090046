#include "common.hpp"

namespace pfo3::app {

void apply_broker_flags(config::settings& s, const std::optional<std::string>& amqp,
                        const std::optional<std::string>& queue) {
    if (amqp) {
        s.amqp.url = *amqp;
        s.amqp.urls.clear();
    }
    if (queue) s.amqp.queue = *queue;
}

void add_client_auth_options(CLI::App* cmd, net::client_auth& opts) {
    cmd->add_option("--token-file", opts.token_file,
                    "file whose first line is the token to authenticate with (default: $PFO3_TOKEN)");
    cmd->add_flag("--tls", opts.tls, "connect with TLS, verifying the server's certificate and name");
    cmd->add_option("--ca-file", opts.ca_file, "CAs to verify the server with (PEM; default: the system's); implies --tls");
    cmd->add_option("--cert-file", opts.cert_file, "client certificate (PEM) for mutual TLS; implies --tls");
    cmd->add_option("--key-file", opts.key_file, "the client certificate's key (PEM; default: --cert-file)");
    cmd->add_option("--server-name", opts.server_name, "name the server's certificate must hold (default: the host of --server)");
}

}  // namespace pfo3::app
