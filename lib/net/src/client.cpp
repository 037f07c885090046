#include "pfo3/net/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <array>
#include <cctype>

#include <boost/asio/ssl/stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "pfo3/core/error.hpp"
#include "tls_context.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/response.hpp"

namespace pfo3::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// A response line longer than this means a broken or hostile server, not a big result.
constexpr std::size_t max_line_bytes = 64u << 20;
constexpr std::size_t read_chunk = 65536;

}  // namespace

struct client::impl {
    asio::io_context io;
    tcp::socket socket{io};
    std::string address;
    std::string buf;          // bytes received and not yet returned
    std::size_t start = 0;    // first byte of buf not yet returned
    std::size_t scanned = 0;  // bytes after `start` known to hold no '\n'
    std::shared_ptr<asio::ssl::context> tls_context;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;  // null: plaintext

    void handshake(const client_tls_options& o, const std::string& host, std::chrono::milliseconds timeout);

    [[noreturn]] void fail(const char* step, const error_code& ec) const {
        throw service_error(std::string(step) + " " + address + ": " + ec.message(), true);
    }

    std::optional<std::string> read_line(std::optional<std::chrono::steady_clock::time_point> deadline);
    std::size_t read_some(char* data, std::size_t size,
                          std::optional<std::chrono::steady_clock::time_point> deadline);
};

// Reads go through the io_context (not a plain blocking recv) so that a deadline can cancel
// them: async_connect has already put the descriptor in non-blocking mode.
std::size_t client::impl::read_some(char* data, std::size_t size,
                                    std::optional<std::chrono::steady_clock::time_point> deadline) {
    error_code result = asio::error::would_block;
    std::size_t got = 0;
    auto on_read = [&](const error_code& e, std::size_t n) {
        result = e;
        got = n;
    };
    if (tls)
        tls->async_read_some(asio::buffer(data, size), on_read);
    else
        socket.async_read_some(asio::buffer(data, size), on_read);
    io.restart();
    if (deadline)
        io.run_until(*deadline);
    else
        io.run();
    if (result == asio::error::would_block) {
        // Deadline passed: cancel, then let the handler run (it may still have got bytes).
        error_code ignored;
        socket.cancel(ignored);
        io.restart();
        io.run();
        if (result == asio::error::operation_aborted || result == asio::error::would_block)
            throw service_error("read from " + address + ": no response within the timeout", true);
    }
    if (result == asio::error::eof || result == asio::ssl::error::stream_truncated) return 0;
    if (result) fail("read from", result);
    return got;
}

std::optional<std::string> client::impl::read_line(
    std::optional<std::chrono::steady_clock::time_point> deadline) {
    std::array<char, read_chunk> chunk;
    for (;;) {
        const auto from = buf.begin() + static_cast<std::ptrdiff_t>(start + scanned);
        const auto nl = std::find(from, buf.end(), '\n');
        if (nl != buf.end()) {
            const auto end = static_cast<std::size_t>(nl - buf.begin());
            std::string line = buf.substr(start, end - start);
            start = end + 1;
            scanned = 0;
            return line;
        }
        scanned = buf.size() - start;
        if (scanned > max_line_bytes)
            throw service_error("read from " + address + ": a response line is longer than " +
                                    std::to_string(max_line_bytes) + " bytes",
                                false);
        // Drop returned lines before the buffer grows, so it holds one partial line at most.
        if (start > 0) {
            buf.erase(0, start);
            start = 0;
        }
        const std::size_t n = read_some(chunk.data(), chunk.size(), deadline);
        if (n == 0) {
            if (buf.empty()) return std::nullopt;
            throw service_error("read from " + address +
                                    ": the server closed the connection in the middle of a response",
                                true);
        }
        buf.append(chunk.data(), n);
    }
}

client::client(std::string_view host_port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
    impl_->address = std::string(host_port);
    auto [host, port] = split_host_port(host_port, "server address");
    auto& io = impl_->io;
    error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) impl_->fail("resolve", ec);

    error_code result = asio::error::would_block;
    asio::async_connect(impl_->socket, endpoints,
                        [&](const error_code& e, const tcp::endpoint&) { result = e; });
    io.run_for(timeout);
    if (result == asio::error::would_block) {
        // Timed out: abort the attempt and let its handler run before `result` goes away.
        impl_->socket.close(ec);
        io.restart();
        io.run();
        throw service_error("connect to " + impl_->address + ": timed out after " +
                                std::to_string(timeout.count()) + " ms",
                            true);
    }
    if (result) impl_->fail("connect to", result);
    // Requests are small and often pipelined: send them at once.
    impl_->socket.set_option(tcp::no_delay(true), ec);
}

// The name checked is --server-name, else the host of the address (an IP address is checked
// against the certificate's IP entries); SNI carries it when it is a name.
void client::impl::handshake(const client_tls_options& o, const std::string& host, std::chrono::milliseconds timeout) {
    tls_context = make_client_context(o);
    tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket, *tls_context);
    const std::string name = o.server_name.empty() ? host : o.server_name;
    error_code ec;
    asio::ip::make_address(name, ec);
    SSL* ssl = tls->native_handle();
    // OpenSSL checks the name during verification, so a mismatch has its own verify result.
    const bool set = ec ? SSL_set_tlsext_host_name(ssl, name.c_str()) == 1 && SSL_set1_host(ssl, name.c_str()) == 1
                        : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
    if (!set) throw config_error("--server-name: cannot check the name \"" + name + "\": " + openssl_errors());
    tls->set_verify_mode(asio::ssl::verify_peer);
    error_code result = asio::error::would_block;
    tls->async_handshake(asio::ssl::stream_base::client, [&](const error_code& e) { result = e; });
    io.restart();
    io.run_for(timeout);
    if (result == asio::error::would_block) {
        socket.close(ec);
        io.restart();
        io.run();
        throw service_error("TLS handshake with " + address + ": no answer within " + std::to_string(timeout.count()) + " ms",
                            true);
    }
    if (!result) return;
    const long verify = SSL_get_verify_result(tls->native_handle());
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
        throw service_error("TLS handshake with " + address + ": the server's certificate is not valid for the name \"" +
                                name + "\" (give the name it holds with --server-name)",
                            false);
    if (verify != X509_V_OK)
        throw service_error("TLS handshake with " + address + ": the server's certificate cannot be verified: " +
                                X509_verify_cert_error_string(verify) + " (--ca-file names the CAs to trust)",
                            false);
    throw service_error("TLS handshake with " + address + ": " + result.message(), false);
}

client::client(std::string_view host_port, const client_options& o) : client(host_port, o.timeout) {
    if (o.tls.enabled) impl_->handshake(o.tls, split_host_port(host_port, "server address").first, o.timeout);
    if (o.token.empty()) return;
    std::string request = "{\"op\":\"auth\",\"token\":";
    request += json::quote(o.token);
    request += "}\n";
    write(request);
    // A refusal is answered after the server's failure delay: allow for it.
    const auto line = read_line(o.timeout + std::chrono::seconds(60));
    const auto r = line ? json::decode_response(*line) : std::nullopt;
    if (r && r->ok) return;
    throw config_error("server " + impl_->address + " refused the token: " +
                       (r ? r->error + ": " + r->message : std::string("the connection closed without an answer")));
}

client::~client() = default;

void client::write(std::string_view bytes) {
    error_code ec;
    if (impl_->tls)
        asio::write(*impl_->tls, asio::buffer(bytes.data(), bytes.size()), ec);
    else
        asio::write(impl_->socket, asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec) impl_->fail("write to", ec);
}

void client::shutdown_write() {
    error_code ec;
    impl_->socket.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) impl_->fail("shut down writing to", ec);
}

std::optional<std::string> client::read_line() { return impl_->read_line(std::nullopt); }

std::optional<std::string> client::read_line(std::chrono::milliseconds timeout) {
    return impl_->read_line(std::chrono::steady_clock::now() + timeout);
}

std::pair<std::string, std::string> split_host_port(std::string_view host_port, std::string_view what) {
    auto fail = [&](const char* why) -> void {
        throw config_error(std::string(what) + ": '" + std::string(host_port) + "' " + why +
                           " (expected HOST:PORT, or [IPv6]:PORT)");
    };
    std::string_view host;
    std::string_view port;
    if (!host_port.empty() && host_port.front() == '[') {
        const auto close = host_port.find(']');
        if (close == std::string_view::npos) fail("has '[' without ']'");
        host = host_port.substr(1, close - 1);
        const auto rest = host_port.substr(close + 1);
        if (rest.empty() || rest.front() != ':') fail("has no ':PORT' after ']'");
        port = rest.substr(1);
    } else {
        const auto colon = host_port.rfind(':');
        if (colon == std::string_view::npos) fail("has no ':PORT'");
        host = host_port.substr(0, colon);
        if (host.find(':') != std::string_view::npos)
            fail("looks like an IPv6 address without brackets");
        port = host_port.substr(colon + 1);
    }
    if (host.empty()) fail("has no host");
    const bool digits = !port.empty() && port.size() <= 5 &&
                        std::all_of(port.begin(), port.end(),
                                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (!digits || std::stoul(std::string(port)) > 65535) fail("has no valid port (0-65535)");
    return {std::string(host), std::string(port)};
}

}  // namespace pfo3::net
