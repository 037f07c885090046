#pragma once
// `pfo3 cancel`: asks serve to cancel tasks (issue 16): one answer line per id.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Flags and arguments of `pfo3 cancel`.
struct cancel_options {
    std::optional<std::string> server;
    std::string reason;
    std::vector<std::string> ids;
    net::client_auth auth;
};

/// Registers the `cancel` subcommand.
CLI::App* setup_cancel(CLI::App& root, cancel_options& opts);
/// Sends one cancel per id; 0 all cancel_requested, 1 some refused (too_late, not_found, …),
/// 3 server unreachable.
int run_cancel(config::settings s, const cancel_options& opts);

}  // namespace pfo3::app
