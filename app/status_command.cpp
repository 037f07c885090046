#include "status_command.hpp"

#include <functional>
#include <iostream>
#include <thread>

#include "common.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/net/pipelined.hpp"

namespace pfo3::app {

namespace {

// One round of status requests for `ids`; answers go to `lines` (same order).
void ask_status(const std::string& server, const std::vector<std::string>& ids, std::vector<std::string>& lines,
                const net::client_options& connect) {
    std::size_t next_id = 0;
    lines.assign(ids.size(), {});
    net::run_pipelined(
        server, 256,
        [&]() -> std::optional<std::string> {
            if (next_id == ids.size()) return std::nullopt;
            return "{\"op\":\"status\",\"id\":" + json::quote(ids[next_id++]) + "}";
        },
        [&](std::size_t i, const std::string& line) { lines[i] = line; }, connect);
}

// Final: the task is done or dead, or serve refused the question for good. `unavailable` (the
// store cannot be read right now) and `overloaded` (too many status reads waiting) pass, so
// they are asked again until the deadline like `pending`.
bool is_final(const std::string& line) {
    auto r = json::decode_response(line);
    if (!r) return true;
    if (!r->ok) return r->error != "unavailable" && r->error != "overloaded";
    return r->status == "done" || r->status == "dead" || r->status == "cancelled";
}

}  // namespace

std::size_t wait_for_results(const std::string& server, const std::vector<std::string>& ids,
                             std::chrono::milliseconds timeout, const net::client_options& connect) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<std::string> final_lines(ids.size());
    std::vector<std::size_t> open(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) open[i] = i;
    auto pause = std::chrono::milliseconds(20);
    std::vector<std::string> ask, lines;
    while (true) {
        ask.clear();
        for (auto i : open) ask.push_back(ids[i]);
        ask_status(server, ask, lines, connect);
        std::vector<std::size_t> still_open;
        for (std::size_t k = 0; k < open.size(); ++k) {
            final_lines[open[k]] = lines[k];
            if (!is_final(lines[k])) still_open.push_back(open[k]);
        }
        open.swap(still_open);
        if (open.empty() || std::chrono::steady_clock::now() >= deadline) break;
        // Results are polled: the store is the source of truth, and polling keeps serve
        // stateless. The pause grows so a long wait costs little.
        std::this_thread::sleep_for(std::min(pause, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        deadline - std::chrono::steady_clock::now())));
        pause = std::min(pause * 2, std::chrono::milliseconds(500));
    }
    std::size_t done = 0;
    for (const auto& line : final_lines) {
        if (net::report_if_rejected(line, std::cout, std::cerr)) {
            std::cout << line << '\n';
            auto r = json::decode_response(line);
            if (r->status == "done") ++done;
        }
    }
    std::cout.flush();
    return done;
}

CLI::App* setup_status(CLI::App& root, status_options& opts) {
    auto* cmd = root.add_subcommand("status", "show where tasks stand (one JSON line per id)");
    cmd->add_option("--server", opts.server, "HOST:PORT of pfo3 serve (send.server)");
    cmd->add_option("ids", opts.ids, "task ids")->required();
    add_client_auth_options(cmd, opts.auth);
    return cmd;
}

int ask_each(const std::string& server, const std::vector<std::string>& ids,
             const std::function<std::string(const std::string&)>& request, const net::client_options& connect) {
    std::size_t next_id = 0, rejected = 0;
    net::request_source next = [&]() -> std::optional<std::string> {
        if (next_id == ids.size()) return std::nullopt;
        return request(ids[next_id++]);
    };
    auto on_response = [&](std::size_t, const std::string& line) {
        if (net::report_if_rejected(line, std::cout, std::cerr)) std::cout << line << '\n';
        else ++rejected;
    };
    try {
        net::run_pipelined(server, 256, next, on_response, connect);
    } catch (const service_error& e) {
        std::cout.flush();
        std::cerr << "error: cannot reach server: " << e.what() << '\n';
        return exit_unreachable;
    }
    return rejected ? exit_rejected : exit_ok;
}

int run_status(config::settings s, const status_options& opts) {
    if (opts.server) s.send.server = *opts.server;
    config::validate(s);
    return ask_each(
        s.send.server, opts.ids,
        [](const std::string& id) { return "{\"op\":\"status\",\"id\":" + json::quote(id) + "}"; },
        net::client_options_of(opts.auth));
}

}  // namespace pfo3::app
