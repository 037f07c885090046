#pragma once
// `pfo3 token new|list|revoke`: the tokens file serve checks clients against (docs/security.md).
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "pfo3/config/settings.hpp"

namespace pfo3::app {

/// Flags and arguments of `pfo3 token` and its three actions.
struct token_options {
    std::optional<std::string> tokens_file;  ///< default auth.tokens_file
    std::string action;                      ///< "new", "list" or "revoke" (set by the parser)
    std::string name;                        ///< new, revoke: the principal
    std::string scopes;                      ///< new: "submit,status"
};

/// Registers the `token` subcommand with `new`, `list` and `revoke`.
CLI::App* setup_token(CLI::App& root, token_options& opts);
/// Runs the chosen action; 0 ok, 1 revoke found no such name, 2 usage or configuration.
int run_token(const config::settings& s, const token_options& opts);

}  // namespace pfo3::app
