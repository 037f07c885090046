#pragma once
// What every role's entry point shares: the global options and the exit-code contract.
#include <optional>
#include <string>

#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Exit statuses (SPEC 2); decided here and in main only.
enum exit_code : int {
    exit_ok = 0,
    exit_rejected = 1,     ///< send: some tasks rejected
    exit_usage = 2,        ///< usage or configuration error
    exit_unreachable = 3,  ///< send/status: cannot reach the server
    exit_failure = 4,      ///< a role stopped on an error it could not recover from
};

/// Options that stand before or after the command.
struct global_options {
    std::optional<std::string> config_file;
    std::string log_level = "info";
    std::string log_format = "text";
};

}  // namespace pfo3::app
