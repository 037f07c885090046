#include "cancel_command.hpp"

#include "common.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/json/client_requests.hpp"
#include "status_command.hpp"

namespace pfo3::app {

CLI::App* setup_cancel(CLI::App& root, cancel_options& opts) {
    auto* cmd = root.add_subcommand("cancel", "cancel scheduled or retry-waiting tasks (one JSON line per id)");
    cmd->add_option("--server", opts.server, "HOST:PORT of pfo3 serve (send.server)");
    cmd->add_option("--reason", opts.reason, "why, stored with the task and shown by status");
    cmd->add_option("ids", opts.ids, "task ids")->required();
    add_client_auth_options(cmd, opts.auth);
    return cmd;
}

int run_cancel(config::settings s, const cancel_options& opts) {
    if (opts.server) s.send.server = *opts.server;
    config::validate(s);
    return ask_each(
        s.send.server, opts.ids, [&](const std::string& id) { return json::encode_cancel_request(id, opts.reason); },
        net::client_options_of(opts.auth));
}

}  // namespace pfo3::app
