#include "pfo3/http/get.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>

#include "pfo3/net/client.hpp"

namespace pfo3::http {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Serve's answers are small; a bound keeps a wrong port from filling memory.
constexpr std::size_t max_answer_bytes = 64 << 20;

}  // namespace

std::string get(const std::string& host_port, const std::string& path, const std::string& token) {
    auto [host, port] = net::split_host_port(host_port, "--http");
    asio::io_context io;
    tcp::resolver resolver(io);
    tcp::socket s(io);
    asio::connect(s, resolver.resolve(host, port));
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n" +
                            (token.empty() ? "" : "Authorization: Bearer " + token + "\r\n") + "\r\n";
    asio::write(s, asio::buffer(req));
    std::string answer;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(answer, max_answer_bytes), ec);
    if (ec && ec != asio::error::eof) throw std::runtime_error("reading the answer: " + ec.message());
    const auto end = answer.find("\r\n\r\n");
    if (end == std::string::npos || !answer.starts_with("HTTP/1."))
        throw std::runtime_error("not an HTTP answer");
    const auto status = answer.substr(9, 3);
    if (status != "200") throw std::runtime_error("HTTP " + answer.substr(9, answer.find('\r') - 9));
    return answer.substr(end + 4);
}

}  // namespace pfo3::http
