#include "tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "pfo3/core/error.hpp"

namespace pfo3::net {

namespace ssl = boost::asio::ssl;

std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& file) {
    throw config_error(what + " " + file + ": " + openssl_errors());
}

}  // namespace

std::shared_ptr<ssl::context> make_server_context(const server_tls_options& o) {
    ERR_clear_error();
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* c = ctx->native_handle();
    SSL_CTX_set_min_proto_version(c, o.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
    // Renegotiation and tickets would make the engine write while a session only reads.
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(c, o.cert_file.c_str()) != 1) fail("serve.tls.cert_file", o.cert_file);
    if (SSL_CTX_use_PrivateKey_file(c, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) fail("serve.tls.key_file", o.key_file);
    if (SSL_CTX_check_private_key(c) != 1) fail("serve.tls.key_file does not match cert_file:", o.key_file);
    if (o.client_cert != client_cert_mode::none) {
        if (SSL_CTX_load_verify_locations(c, o.client_ca_file.c_str(), nullptr) != 1)
            fail("serve.tls.client_ca_file", o.client_ca_file);
        int mode = SSL_VERIFY_PEER;
        if (o.client_cert == client_cert_mode::required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(c, mode, nullptr);
        // Session ids are never resumed (no cache, no tickets); the context id only keeps
        // OpenSSL from refusing a verifying server without one.
        static const unsigned char id[] = "pfo3";
        SSL_CTX_set_session_id_context(c, id, sizeof id - 1);
    }
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    return ctx;
}

std::shared_ptr<ssl::context> make_client_context(const client_tls_options& o) {
    ERR_clear_error();
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX* c = ctx->native_handle();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    if (o.ca_file.empty()) {
        if (SSL_CTX_set_default_verify_paths(c) != 1) fail("--ca-file: the system's CAs", "(default paths)");
    } else if (SSL_CTX_load_verify_locations(c, o.ca_file.c_str(), nullptr) != 1) {
        fail("--ca-file", o.ca_file);
    }
    if (!o.cert_file.empty()) {
        if (SSL_CTX_use_certificate_chain_file(c, o.cert_file.c_str()) != 1) fail("--cert-file", o.cert_file);
        const std::string& key = o.key_file.empty() ? o.cert_file : o.key_file;
        if (SSL_CTX_use_PrivateKey_file(c, key.c_str(), SSL_FILETYPE_PEM) != 1) fail("--key-file", key);
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    return ctx;
}

std::string peer_subject(SSL* s) {
    X509* cert = SSL_get1_peer_certificate(s);
    if (!cert) return {};
    std::string out;
    if (SSL_get_verify_result(s) == X509_V_OK) {
        BIO* bio = BIO_new(BIO_s_mem());
        if (bio && X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
            char* data = nullptr;
            const long n = BIO_get_mem_data(bio, &data);
            if (n > 0) out.assign(data, static_cast<std::size_t>(n));
        }
        BIO_free(bio);
    }
    X509_free(cert);
    return out;
}

}  // namespace pfo3::net
