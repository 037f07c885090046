#pragma once
// OpenSSL contexts made from the TLS options: one per server configuration (shared by the
// connections that started under it), one per client. Building one reads the files, so a
// broken file is reported (config_error naming it and OpenSSL's reason) and nothing changes.
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "pfo3/net/tls.hpp"

namespace pfo3::net {

/// A server context: chain, key, minimum version, no renegotiation, no session tickets, client
/// verification per the options.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const server_tls_options& o);
/// A client context: the CA file (or the system's), optional client certificate, TLS >= 1.2.
std::shared_ptr<boost::asio::ssl::context> make_client_context(const client_tls_options& o);
/// The verified peer certificate's subject in RFC 2253 form ("CN=svc,O=x"); empty if none.
std::string peer_subject(SSL* ssl);
/// OpenSSL's error queue as text (emptied), for messages.
std::string openssl_errors();

}  // namespace pfo3::net
