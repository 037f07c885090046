#pragma once
// The flags of serve and work that switch the roles' own sight ([http] metrics).
#include <CLI/CLI.hpp>
#include <optional>

namespace pfo3::app {

/// --metrics / --no-metrics: overrides http.metrics when given.
void add_metrics_flag(CLI::App& cmd, std::optional<bool>& metrics);

}  // namespace pfo3::app
