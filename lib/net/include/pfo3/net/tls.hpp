#pragma once
// TLS settings of the client port and of the blocking client (docs/security.md). Plain
// structs; the OpenSSL objects made from them stay inside lib/net.
#include <chrono>
#include <string>

namespace pfo3::net {

/// Whether the server's port speaks TLS; decided per connection by its first byte.
enum class tls_mode { off, optional, required };
/// Whether the server asks clients for a certificate (mutual TLS).
enum class client_cert_mode { none, optional, required };

/// The server side: certificate, key, versions, client certificates.
struct server_tls_options {
    tls_mode mode = tls_mode::off;
    std::string cert_file;
    std::string key_file;
    bool tls13_only = false;  ///< min_version 1.3 (else 1.2)
    std::chrono::milliseconds handshake_timeout{10000};
    std::string client_ca_file;
    client_cert_mode client_cert = client_cert_mode::none;
};

/// The client side (`send`, `status`): off unless `enabled`.
struct client_tls_options {
    bool enabled = false;
    std::string ca_file;      ///< empty: the system's CAs
    std::string cert_file;    ///< client certificate for mutual TLS; empty: none
    std::string key_file;
    std::string server_name;  ///< name to verify (and SNI); empty: the host of the address
};

/// True for the first byte of a TLS handshake record (0x16); anything else is plaintext.
constexpr bool is_tls_first_byte(unsigned char b) { return b == 0x16; }

}  // namespace pfo3::net
