#pragma once
// `pfo3 status`: asks `pfo3 serve` where tasks stand.
#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Flags and arguments of `pfo3 status`.
struct status_options {
    std::optional<std::string> server;
    std::vector<std::string> ids;
    net::client_auth auth;
};

/// Asks the server for the status of `ids` until each is final (done or dead) or `timeout`
/// passes, then prints one status line per id, in order. Returns how many ended `done`.
/// Throws service_error if the server cannot be reached.
std::size_t wait_for_results(const std::string& server, const std::vector<std::string>& ids,
                             std::chrono::milliseconds timeout, const net::client_options& connect = {});

/// Registers the `status` subcommand.
/// Sends `request(id)` for each id, pipelined; prints each answer line (a rejection goes to
/// stderr as report_if_rejected says). Returns exit_ok, exit_rejected if any was refused, or
/// exit_unreachable.
int ask_each(const std::string& server, const std::vector<std::string>& ids,
             const std::function<std::string(const std::string&)>& request, const net::client_options& connect);

CLI::App* setup_status(CLI::App& root, status_options& opts);
/// Prints one status line (JSON) per id; 0 if all answered, 1 if some were rejected,
/// 3 if the server is unreachable.
int run_status(config::settings s, const status_options& opts);

}  // namespace pfo3::app
