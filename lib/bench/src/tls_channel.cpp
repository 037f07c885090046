#include "tls_channel.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <arpa/inet.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "pfo3/core/error.hpp"

namespace pfo3::bench {

namespace {

std::string ssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += out.empty() ? buf : std::string("; ") + buf;
    }
    return out.empty() ? "TLS error" : out;
}

bool is_ip(const std::string& name) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, name.c_str(), buf) == 1 || ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

struct tls_channel::handles {
    SSL_CTX* ctx = nullptr;
    SSL* ssl = nullptr;
    ~handles() {
        if (ssl) SSL_free(ssl);
        if (ctx) SSL_CTX_free(ctx);
    }
};

tls_channel::tls_channel(int fd, const net::client_tls_options& o, const std::string& host,
                         std::chrono::milliseconds timeout)
    : h_(std::make_unique<handles>()) {
    auto fail = [&](const std::string& what) -> void { throw service_error("TLS to " + host + ": " + what, false); };
    ERR_clear_error();
    h_->ctx = SSL_CTX_new(TLS_client_method());
    if (!h_->ctx) fail(ssl_errors());
    SSL_CTX_set_min_proto_version(h_->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(h_->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    const bool cas = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(h_->ctx) == 1
                                       : SSL_CTX_load_verify_locations(h_->ctx, o.ca_file.c_str(), nullptr) == 1;
    if (!cas) fail("--ca-file " + o.ca_file + ": " + ssl_errors());
    if (!o.cert_file.empty()) {
        const std::string& key = o.key_file.empty() ? o.cert_file : o.key_file;
        if (SSL_CTX_use_certificate_chain_file(h_->ctx, o.cert_file.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(h_->ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
            fail("--cert-file " + o.cert_file + ": " + ssl_errors());
    }
    SSL_CTX_set_verify(h_->ctx, SSL_VERIFY_PEER, nullptr);
    h_->ssl = SSL_new(h_->ctx);
    if (!h_->ssl || SSL_set_fd(h_->ssl, fd) != 1) fail(ssl_errors());
    const std::string name = o.server_name.empty() ? host : o.server_name;
    const bool named = is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(h_->ssl), name.c_str()) == 1
                                   : SSL_set_tlsext_host_name(h_->ssl, name.c_str()) == 1 &&
                                         SSL_set1_host(h_->ssl, name.c_str()) == 1;
    if (!named) fail("cannot check the name \"" + name + "\"");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const int rc = SSL_connect(h_->ssl);
        if (rc == 1) return;
        const int e = SSL_get_error(h_->ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            const long verify = SSL_get_verify_result(h_->ssl);
            fail(verify != X509_V_OK ? std::string("the server's certificate: ") + X509_verify_cert_error_string(verify)
                                     : "handshake: " + ssl_errors());
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) fail("no handshake within " + std::to_string(timeout.count()) + " ms");
        pollfd p{fd, static_cast<short>(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
    }
}

tls_channel::~tls_channel() = default;

ssize_t tls_channel::result(int ret) {
    if (ret > 0) return ret;
    const int e = SSL_get_error(h_->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0)) return 0;
    error_ = e == SSL_ERROR_SYSCALL ? std::string("connection: ") + std::strerror(errno) : ssl_errors();
    errno = EIO;
    return -1;
}

ssize_t tls_channel::send(const char* data, std::size_t size) {
    ERR_clear_error();
    errno = 0;
    return result(SSL_write(h_->ssl, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30))));
}

ssize_t tls_channel::recv(char* data, std::size_t size) {
    ERR_clear_error();
    errno = 0;
    return result(SSL_read(h_->ssl, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30))));
}

}  // namespace pfo3::bench
