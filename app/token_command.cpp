#include "token_command.hpp"

#include <iostream>

#include "common.hpp"
#include "pfo3/auth/tokens.hpp"
#include "pfo3/core/error.hpp"

namespace pfo3::app {

CLI::App* setup_token(CLI::App& root, token_options& opts) {
    auto* cmd = root.add_subcommand("token", "make, list and revoke client tokens (auth.tokens_file)");
    cmd->require_subcommand(1);
    cmd->add_option("--tokens-file", opts.tokens_file, "the tokens file (auth.tokens_file)");
    auto* make = cmd->add_subcommand("new", "make a token for NAME, print it once, store only its hash");
    make->add_option("name", opts.name, "principal name: 1-64 characters of [A-Za-z0-9._@-]")->required();
    make->add_option("--scopes", opts.scopes, "comma-separated: submit,status,admin,metrics")->required();
    make->callback([&opts] { opts.action = "new"; });
    auto* list = cmd->add_subcommand("list", "list principals and their scopes (never a token)");
    list->callback([&opts] { opts.action = "list"; });
    auto* revoke = cmd->add_subcommand("revoke", "remove NAME's token");
    revoke->add_option("name", opts.name, "principal name")->required();
    revoke->callback([&opts] { opts.action = "revoke"; });
    for (auto* sub : {make, list, revoke}) sub->fallthrough();
    return cmd;
}

int run_token(const config::settings& s, const token_options& opts) {
    const std::string file = opts.tokens_file ? *opts.tokens_file : s.auth.tokens_file;
    if (file.empty()) throw config_error("token: no tokens file: give --tokens-file or set auth.tokens_file");
    if (opts.action == "new") {
        std::string why;
        auto scopes = auth::parse_scopes(opts.scopes, why);
        if (!scopes) throw config_error("token new --scopes: " + why);
        std::cout << auth::add_token(file, opts.name, *scopes) << '\n';
        std::cerr << "token for " << opts.name << " (" << scopes->to_string() << ") added to " << file
                  << "; it is shown only this once. Serve reads it at start (or on SIGHUP).\n";
        return exit_ok;
    }
    if (opts.action == "list") {
        for (const auto& e : auth::load_tokens_file(file)) std::cout << e.name << '\t' << e.scopes.to_string() << '\n';
        return exit_ok;
    }
    if (auth::revoke_token(file, opts.name)) {
        std::cerr << "token of " << opts.name << " removed from " << file << "\n";
        return exit_ok;
    }
    std::cerr << "error: no token named " << opts.name << " in " << file << '\n';
    return exit_rejected;
}

}  // namespace pfo3::app
