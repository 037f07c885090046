#include "workers_command.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common.hpp"
#include "pfo3/auth/tokens.hpp"
#include "pfo3/json/value.hpp"
#include "pfo3/net/client.hpp"

namespace pfo3::app {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Serve's answers are small; a bound keeps a wrong port from filling memory.
constexpr std::size_t max_answer_bytes = 64 << 20;

// The body of GET `path` from HOST:PORT (HTTP/1.0: the server closes after the answer), with
// `token` as a bearer token unless empty (serve asks for one from other hosts).
std::string http_get(const std::string& host_port, const std::string& path, const std::string& token) {
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

std::string text_of(const json::value& beat, const char* name) {
    auto v = beat.find(name);
    if (!v) return "-";
    if (v->is(json::kind::string)) return std::string(v->string());
    if (v->is(json::kind::boolean)) return v->boolean() ? "yes" : "no";
    return v->compact();
}

// The tasks a worker's heartbeat says it runs, one line each under its row, oldest first.
void print_in_hand(const std::optional<json::value>& beat) {
    auto list = beat ? beat->find("in_hand") : std::nullopt;
    if (!list || !list->is(json::kind::array)) return;
    for (std::size_t i = 0; i < list->size(); ++i) {
        const auto t = (*list)[i];
        std::printf("    running %s (%s) for %ss\n", text_of(t, "id").c_str(), text_of(t, "type").c_str(),
                    text_of(t, "age_s").c_str());
    }
    const auto count = beat->find("in_hand_count");
    if (count && count->int64() && static_cast<std::size_t>(*count->int64()) > list->size())
        std::printf("    ... and %lld more\n", static_cast<long long>(*count->int64() - static_cast<std::int64_t>(list->size())));
}

}  // namespace

CLI::App* setup_workers(CLI::App& root, workers_options& opts) {
    auto* cmd = root.add_subcommand("workers", "list the workers serve hears from (heartbeats on pfo3.events)");
    cmd->add_option("--http", opts.http, "HOST:PORT of serve's HTTP endpoints (http.listen, default 127.0.0.1:5080)");
    cmd->add_flag("--json", opts.json, "print serve's JSON as it is");
    cmd->add_option("--token-file", opts.token_file,
                    "file whose first line is a token with the status scope, for a serve on another host "
                    "(default: $PFO3_TOKEN)");
    return cmd;
}

int run_workers(config::settings s, const workers_options& opts) {
    std::string where = opts.http.value_or(s.http.listen.empty() || s.http.listen == "off" ? "127.0.0.1:5080"
                                                                                              : s.http.listen);
    if (where.starts_with("0.0.0.0:")) where = "127.0.0.1:" + where.substr(8);
    std::string body;
    try {
        std::string token;
        if (opts.token_file)
            token = auth::read_token_file(*opts.token_file);
        else if (const char* env = std::getenv("PFO3_TOKEN"); env && *env)
            token = env;
        body = http_get(where, "/api/workers", token);
    } catch (const std::exception& e) {
        std::cerr << "pfo3: cannot ask serve at " << where << " for its workers: " << e.what() << "\n";
        return exit_unreachable;
    }
    if (opts.json) {
        std::cout << body;
        return exit_ok;
    }
    std::string why;
    auto doc = json::parse(body, why);
    auto list = doc ? doc->root().find("workers") : std::nullopt;
    if (!list || !list->is(json::kind::array)) {
        std::cerr << "pfo3: serve answered something that is not a worker list: " << why << "\n";
        return exit_unreachable;
    }
    std::printf("%-32s %-9s %-6s %5s %8s %9s %10s %8s %8s %9s\n", "WORKER", "STATE", "READY", "CONC", "PREFETCH",
                "IN_FLIGHT", "DONE", "RETRY", "DEAD", "SEEN_AGO");
    for (std::size_t i = 0; i < list->size(); ++i) {
        const auto w = (*list)[i];
        const auto beat = w.find("beat");
        const bool gone = w.find("gone") && w.find("gone")->boolean();
        auto field = [&](const char* name) { return beat ? text_of(*beat, name) : std::string("-"); };
        std::printf("%-32s %-9s %-6s %5s %8s %9s %10s %8s %8s %8ss\n", text_of(w, "id").c_str(), gone ? "gone" : "alive",
                    field("ready").c_str(), field("concurrency").c_str(), field("prefetch").c_str(),
                    field("in_flight").c_str(), field("done").c_str(), field("retry").c_str(), field("dead").c_str(),
                    text_of(w, "seen_s_ago").c_str());
        print_in_hand(beat);
    }
    return exit_ok;
}

}  // namespace pfo3::app
