// `pfo3 dead`: inspect, requeue and purge the dead letters of `<queue>.dead`. Only the command
// line lives here: the work is queue::dead_letters (decision 0016), reached through serve's
// dead_* ops by default or with --direct against the broker (serve::dead_letter_path), and
// printed by serve::run_dead_action the same way for both.
#include "dead_command.hpp"

#include <unistd.h>

#include <iostream>

#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/queue/configured.hpp"

namespace pfo3::app {

namespace {

int exit_status_of(serve::dead_outcome o) {
    switch (o) {
        case serve::dead_outcome::done: return exit_ok;
        case serve::dead_outcome::some_left: return exit_rejected;
        case serve::dead_outcome::refused_without_yes: return exit_usage;
        case serve::dead_outcome::stopped: return exit_unreachable;
    }
    return exit_failure;  // not reached: every outcome is handled above
}

int run_action(serve::dead_letter_path& p, const dead_options& opts) {
    return exit_status_of(serve::run_dead_action(p, opts.act, std::cout, std::cerr, ::isatty(STDERR_FILENO) == 1));
}

}  // namespace

CLI::App* setup_dead(CLI::App& root, dead_options& opts) {
    auto* cmd = root.add_subcommand("dead", "inspect, requeue or purge the dead letters (<queue>.dead) through serve");
    cmd->add_option("--server", opts.server, "HOST:PORT of pfo3 serve (send.server)");
    add_client_auth_options(cmd, opts.auth);
    cmd->add_flag("--direct", opts.direct, "talk to the broker instead of serve (when serve is down; needs its credentials)");
    cmd->add_option("--amqp", opts.amqp, "--direct: broker URL (amqp.url)");
    cmd->add_option("--queue", opts.queue, "--direct: task queue name (amqp.queue); its dead letters are in <queue>.dead");
    cmd->require_subcommand(1);
    auto& act = opts.act;

    auto* list = cmd->add_subcommand("list", "print dead letters without removing them");
    list->add_option("--limit", act.limit, "print at most N (0: all; through serve at most 1000)")->capture_default_str();
    list->add_flag("--json", act.json, "print each message body (JSON), one per line");
    list->callback([&act] { act.action = "list"; });

    auto* requeue = cmd->add_subcommand("requeue", "move dead letters back to the task queue, attempt reset to 1");
    requeue->add_option("ids", act.ids, "task ids to requeue");
    requeue->add_flag("--all", act.all, "requeue every dead letter");
    requeue->callback([&act] { act.action = "requeue"; });

    auto* purge = cmd->add_subcommand("purge", "delete dead letters: these ids, or every one");
    purge->add_option("ids", act.ids, "task ids to delete (none: every dead letter)");
    purge->add_flag("--yes", act.yes, "really delete them");
    purge->callback([&act] { act.action = "purge"; });

    // `pfo3 dead list --server H:P --config F` works like `pfo3 --config F dead --server H:P list`.
    for (auto* sub : {list, requeue, purge}) sub->fallthrough();
    return cmd;
}

int run_dead(config::settings s, const dead_options& opts) {
    log::set_role("dead");
    if (!opts.direct && (opts.amqp || opts.queue)) {
        std::cerr << "error: dead: --amqp and --queue go with --direct (through serve, serve's broker and queue are used)\n";
        return exit_usage;
    }
    if (opts.direct && opts.server) {
        std::cerr << "error: dead: --server does not go with --direct\n";
        return exit_usage;
    }
    if (opts.amqp) s.amqp.url = *opts.amqp;
    if (opts.queue) s.amqp.queue = *opts.queue;
    if (opts.server) s.send.server = *opts.server;
    config::validate(s);
    if (opts.act.action == "requeue" && opts.act.all == !opts.act.ids.empty()) {
        std::cerr << "error: dead requeue: give task ids or --all (not both)\n";
        return exit_usage;
    }
    try {
        if (!opts.direct)
            return run_action(*serve::dead_letters_through_serve(s.send.server, net::client_options_of(opts.auth)), opts);
        config::apply_password_files(s);
        return run_action(*serve::dead_letters_direct(queue::broker_url_of(s), queue::topology_of(s),
                                                      std::chrono::milliseconds(s.serve.confirm_timeout_ms)),
                          opts);
    } catch (const serve::dead_letter_refusal& e) {
        std::cout.flush();
        std::cerr << "error: " << e.code() << ": " << e.what() << '\n';
        if (e.code() == "unavailable" || e.code() == "overloaded") return exit_unreachable;
        return e.code() == "bad_request" ? exit_usage : exit_rejected;
    } catch (const service_error& e) {
        std::cout.flush();
        std::cerr << (opts.direct ? "error: broker: " : "error: cannot reach server: ") << e.what() << '\n';
        // What a retry cannot fix (credentials, vhost, a queue declared otherwise) is settings.
        return e.retryable() ? exit_unreachable : exit_usage;
    }
}

}  // namespace pfo3::app
