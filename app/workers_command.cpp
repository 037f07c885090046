#include "workers_command.hpp"

#include <iostream>

#include "common.hpp"
#include "pfo3/http/get.hpp"
#include "pfo3/net/client_auth.hpp"
#include "pfo3/sight/workers_table.hpp"

namespace pfo3::app {

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
        body = http::get(where, "/api/workers", net::client_token(opts.token_file));
    } catch (const std::exception& e) {
        std::cerr << "pfo3: cannot ask serve at " << where << " for its workers: " << e.what() << "\n";
        return exit_unreachable;
    }
    if (opts.json) {
        std::cout << body;
        return exit_ok;
    }
    std::string why;
    const auto table = sight::workers_table(body, why);
    if (!table) {
        std::cerr << "pfo3: serve answered something that is not a worker list: " << why << "\n";
        return exit_unreachable;
    }
    std::cout << *table;
    return exit_ok;
}

}  // namespace pfo3::app
