#include "status_command.hpp"

#include <iostream>

#include "common.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/response.hpp"
#include "pipelined_requests.hpp"

namespace pfo3::app {

CLI::App* setup_status(CLI::App& root, status_options& opts) {
    auto* cmd = root.add_subcommand("status", "show where tasks stand (one JSON line per id)");
    cmd->add_option("--server", opts.server, "HOST:PORT of pfo3 serve (send.server)");
    cmd->add_option("ids", opts.ids, "task ids")->required();
    return cmd;
}

int run_status(config::settings s, const status_options& opts) {
    if (opts.server) s.send.server = *opts.server;
    config::validate(s);
    std::size_t next_id = 0, rejected = 0;
    request_source next = [&]() -> std::optional<std::string> {
        if (next_id == opts.ids.size()) return std::nullopt;
        return "{\"op\":\"status\",\"id\":" + json::quote(opts.ids[next_id++]) + "}";
    };
    auto on_response = [&](std::size_t, const std::string& line) {
        if (report_if_rejected(line)) std::cout << line << '\n';
        else ++rejected;
    };
    try {
        run_pipelined(s.send.server, 256, next, on_response);
    } catch (const service_error& e) {
        std::cout.flush();
        std::cerr << "error: cannot reach server: " << e.what() << '\n';
        return exit_unreachable;
    }
    return rejected ? exit_rejected : exit_ok;
}

}  // namespace pfo3::app
