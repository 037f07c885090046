#pragma once
// `pfo3 workers`: the workers serve has heard from (their heartbeats), as a table.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Flags of `pfo3 workers`.
struct workers_options {
    std::optional<std::string> http;  ///< HOST:PORT of serve's [http] listen
    bool json = false;                ///< print serve's JSON as it is
    std::optional<std::string> token_file;  ///< the token for a serve off loopback (else $PFO3_TOKEN)
};

/// Registers the `workers` subcommand.
CLI::App* setup_workers(CLI::App& root, workers_options& opts);
/// Prints the table; 0, or 3 if serve's HTTP endpoint cannot be reached or answers an error.
int run_workers(config::settings s, const workers_options& opts);

}  // namespace pfo3::app
