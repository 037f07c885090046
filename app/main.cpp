// The composition root of the command line: parses options, loads settings, runs one role and
// turns what went wrong into the exit status of SPEC section 2.
#include <CLI/CLI.hpp>

#include <iostream>

#include "admin_command.hpp"
#include "bench_command.hpp"
#include "common.hpp"
#include "dead_command.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "send_command.hpp"
#include "serve_command.hpp"
#include "cancel_command.hpp"
#include "status_command.hpp"
#include "token_command.hpp"
#include "work_command.hpp"
#include "workers_command.hpp"

#ifndef PFO3_VERSION
#define PFO3_VERSION "0.0.0"
#endif

namespace {

using namespace pfo3;

void add_global_options(CLI::App& cmd, app::global_options& g) {
    cmd.add_option("--config", g.config_file, "configuration file (TOML)");
    cmd.add_option("--log-level", g.log_level, "trace|debug|info|warn|error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
    cmd.add_option("--log-format", g.log_format, "text|json")->check(CLI::IsMember({"text", "json"}));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"pfo3: a distributed task system (serve, work, send)", "pfo3"};
    cli.set_version_flag("--version", std::string("pfo3 ") + PFO3_VERSION);
    cli.require_subcommand(1);
    app::global_options global;
    add_global_options(cli, global);

    app::serve_options serve_opts;
    app::work_options work_opts;
    app::send_options send_opts;
    app::bench_options bench_opts;
    app::status_options status_opts;
    app::dead_options dead_opts;
    app::cancel_options cancel_opts;
    app::token_options token_opts;
    app::workers_options workers_opts;
    app::admin_options admin_opts;
    auto* serve = app::setup_serve(cli, serve_opts);
    auto* work = app::setup_work(cli, work_opts);
    auto* send = app::setup_send(cli, send_opts);
    auto* bench = app::setup_bench(cli, bench_opts);
    auto* status = app::setup_status(cli, status_opts);
    auto* dead = app::setup_dead(cli, dead_opts);
    auto* cancel = app::setup_cancel(cli, cancel_opts);
    auto* token = app::setup_token(cli, token_opts);
    auto* workers = app::setup_workers(cli, workers_opts);
    auto* admin = app::setup_admin(cli, admin_opts);
    // Global options may also follow the command: `pfo3 serve --config F`.
    for (auto* sub : {serve, work, send, status, dead, bench, cancel, token, workers, admin}) sub->fallthrough();

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = cli.exit(e);
        return rc == 0 ? app::exit_ok : app::exit_usage;
    }

    log::level lvl{};
    log::format fmt{};
    log::parse_level(global.log_level, lvl);
    log::parse_format(global.log_format, fmt);
    log::configure(lvl, fmt);

    try {
        auto settings = config::load_settings(global.config_file, config::process_environment());
        if (serve->parsed()) return app::run_serve(settings, serve_opts);
        if (work->parsed()) return app::run_work(settings, work_opts);
        if (send->parsed()) return app::run_send(settings, send_opts);
        if (bench->parsed()) return app::run_bench(settings, bench_opts);
        if (status->parsed()) return app::run_status(settings, status_opts);
        if (dead->parsed()) return app::run_dead(settings, dead_opts);
        if (cancel->parsed()) return app::run_cancel(settings, cancel_opts);
        if (token->parsed()) return app::run_token(settings, token_opts);
        if (workers->parsed()) return app::run_workers(settings, workers_opts);
        if (admin->parsed()) return app::run_admin(settings, admin_opts);
    } catch (const config_error& e) {
        std::cerr << "pfo3: " << e.what() << "\n";
        return app::exit_usage;
    } catch (const std::exception& e) {
        PFO3_LOG(error, "stopped on an unrecoverable error", {{"error", e.what()}});
        return app::exit_failure;
    }
    return app::exit_usage;
}
