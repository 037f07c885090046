#pragma once
// `pfo3 workers` as a table: serve's /api/workers answer (worker_roster::json()) with one row
// per worker and, under it, the tasks its heartbeat says it runs.
#include <optional>
#include <string>
#include <string_view>

namespace pfo3::sight {

/// The table of `workers_json`; nullopt, with `why`, when it is not a worker list.
std::optional<std::string> workers_table(std::string_view workers_json, std::string& why);

}  // namespace pfo3::sight
