#include "status_command.hpp"

#include <iostream>

#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/json/client_requests.hpp"
#include "pfo3/net/asking.hpp"

namespace pfo3::app {

CLI::App* setup_status(CLI::App& root, status_options& opts) {
    auto* cmd = root.add_subcommand("status", "show where tasks stand (one JSON line per id)");
    cmd->add_option("--server", opts.server, "HOST:PORT of pfo3 serve (send.server)");
    cmd->add_option("ids", opts.ids, "task ids")->required();
    add_client_auth_options(cmd, opts.auth);
    return cmd;
}

int ask_each(const std::string& server, const std::vector<std::string>& ids,
             const std::function<std::string(const std::string&)>& request, const net::client_options& connect) {
    try {
        return net::ask_each(server, ids, request, connect, std::cout, std::cerr) ? exit_rejected : exit_ok;
    } catch (const service_error& e) {
        std::cout.flush();
        std::cerr << "error: cannot reach server: " << e.what() << '\n';
        return exit_unreachable;
    }
}

int run_status(config::settings s, const status_options& opts) {
    if (opts.server) s.send.server = *opts.server;
    config::validate(s);
    return ask_each(
        s.send.server, opts.ids, [](const std::string& id) { return json::encode_status_request(id); },
        net::client_options_of(opts.auth));
}

}  // namespace pfo3::app
