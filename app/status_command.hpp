#pragma once
// `pfo3 status`: asks `pfo3 serve` where tasks stand.
#include <CLI/CLI.hpp>
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

/// Sends `request(id)` for each id (net::ask_each) and prints the answers. Returns exit_ok,
/// exit_rejected if any was refused, or exit_unreachable.
int ask_each(const std::string& server, const std::vector<std::string>& ids,
             const std::function<std::string(const std::string&)>& request, const net::client_options& connect);

/// Registers the `status` subcommand.
CLI::App* setup_status(CLI::App& root, status_options& opts);
/// Prints one status line (JSON) per id; 0 if all answered, 1 if some were rejected,
/// 3 if the server is unreachable.
int run_status(config::settings s, const status_options& opts);

}  // namespace pfo3::app
