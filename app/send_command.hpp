#pragma once
// `pfo3 send`: submits tasks to `pfo3 serve`, pipelined over one connection.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "pfo3/config/settings.hpp"
#include "pfo3/json/client_requests.hpp"

namespace pfo3::app {

/// Flags and arguments of `pfo3 send`.
struct send_options {
    std::optional<std::string> server;
    std::optional<std::string> type;
    bool json = false;               ///< each task is a whole request object
    std::vector<std::string> tasks;  ///< empty: one task per line of stdin
    std::size_t window = 256;        ///< requests in flight on the connection
    double wait_s = 60;              ///< --wait[=SECONDS]: how long to wait for the results
    const CLI::Option* wait_flag = nullptr;  ///< given? (CLI11 writes the variable even when not)
    json::submit_schedule schedule;  ///< --at TIME, --in DURATION, --priority N
    net::client_auth auth;
};

/// Registers the `send` subcommand.
CLI::App* setup_send(CLI::App& root, send_options& opts);
/// Sends the tasks; returns 0 all accepted (with --wait: all done), 1 some rejected (or not
/// done in time), 3 server unreachable.
int run_send(config::settings s, const send_options& opts);

}  // namespace pfo3::app
