// `pfo3 dead`: inspect, requeue and purge the dead letters of `<queue>.dead`. Only the command
// line and the printing live here: the work is queue::dead_letters (decision 0016), reached
// through serve's dead_* ops by default or with --direct against the broker
// (serve::dead_letter_path). Both paths give the same structs, printed the same way.
#include "dead_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "pfo3/queue/configured.hpp"
#include "common.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/queue/dead_letters.hpp"
#include "pfo3/serve/dead_letter_paths.hpp"

namespace pfo3::app {

namespace {

std::string or_dash(const std::string& s) { return s.empty() ? "-" : queue::one_line(s); }

int list(serve::dead_letter_path& p, const dead_options& opts) {
    std::string dead;
    const queue::dead_listing l = p.list(opts.limit, dead);
    if (!opts.json) std::cout << "ID\tTYPE\tATTEMPT\tSUBMITTED_AT\tERROR\n";
    for (const auto& x : l.letters) {
        const auto& d = x.summary;
        if (opts.json) {
            // A cut body is no JSON any more: printed as a JSON string, still one value a line.
            std::cout << (x.body_cut ? json::quote(x.body) : x.body) << '\n';
            if (x.body_cut)
                std::cerr << "note: " << or_dash(d.id) << ": body cut to " << x.body.size() << " of " << x.body_size
                          << " bytes (pfo3 dead --direct list --json prints it whole)\n";
            continue;
        }
        std::cout << or_dash(d.id) << '\t' << or_dash(d.type) << '\t' << (d.attempt > 0 ? std::to_string(d.attempt) : "-")
                  << '\t' << or_dash(d.submitted_at) << '\t' << or_dash(d.error) << '\n';
    }
    std::cout.flush();
    std::cerr << l.letters.size() << " of " << l.total << " dead letters in " << dead << " shown"
              << (l.cut ? " (the answer's size bound was reached)" : "") << '\n';
    return exit_ok;
}

int requeue(serve::dead_letter_path& p, const dead_options& opts) {
    std::string queue;
    const bool terminal = ::isatty(STDERR_FILENO) == 1;
    std::size_t moved_so_far = 0;
    const auto r = p.requeue({opts.all, opts.ids}, queue, [&](const std::vector<std::string>& ids, std::uint32_t left) {
        for (const auto& id : ids) std::cout << id << '\n';
        std::cout.flush();
        moved_so_far += ids.size();
        if (terminal && left > 0) std::cerr << "\rrequeued " << moved_so_far << ", " << left << " left   " << std::flush;
    });
    if (terminal && moved_so_far > 0) std::cerr << '\n';
    const std::string dead = queue + ".dead";
    std::size_t unnamed = 0;
    for (const auto& k : r.kept) {
        if (k.why.empty()) ++unnamed;
        else std::cerr << "error: " << or_dash(k.id) << ": cannot be a task again (" << k.why << "); left in " << dead << '\n';
    }
    if (unnamed) std::cerr << "error: " << unnamed << " more dead letters cannot be tasks again; left in " << dead << '\n';
    for (const auto& id : r.missing) std::cerr << "error: " << id << ": no such dead letter in " << dead << '\n';
    if (!r.trouble.empty()) std::cerr << "error: " << r.trouble << ", stopping\n";
    std::cerr << "requeued " << r.moved.size() << " dead letters to " << queue << " (attempt reset to 1); " << r.left
              << " left in " << dead << '\n';
    if (!r.trouble.empty()) return exit_unreachable;
    return r.kept.empty() && r.missing.empty() ? exit_ok : exit_rejected;
}

int purge(serve::dead_letter_path& p, const dead_options& opts) {
    std::string dead;
    if (!opts.yes) {
        const std::uint32_t n = p.list(1, dead).total;
        std::cerr << "error: refusing to delete " << (opts.ids.empty() ? "the " + std::to_string(n) : std::string("any of the"))
                  << " dead letters in " << dead << " without --yes\n";
        return exit_usage;
    }
    const auto r = p.purge({opts.ids.empty(), opts.ids}, dead);
    for (const auto& id : r.missing) std::cerr << "error: " << id << ": no such dead letter in " << dead << '\n';
    std::cout << "purged " << r.purged << " dead letters from " << dead << '\n';
    return r.missing.empty() ? exit_ok : exit_rejected;
}

int run_action(serve::dead_letter_path& p, const dead_options& opts) {
    if (opts.action == "list") return list(p, opts);
    if (opts.action == "purge") return purge(p, opts);
    return requeue(p, opts);
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

    auto* list = cmd->add_subcommand("list", "print dead letters without removing them");
    list->add_option("--limit", opts.limit, "print at most N (0: all; through serve at most 1000)")->capture_default_str();
    list->add_flag("--json", opts.json, "print each message body (JSON), one per line");
    list->callback([&opts] { opts.action = "list"; });

    auto* requeue = cmd->add_subcommand("requeue", "move dead letters back to the task queue, attempt reset to 1");
    requeue->add_option("ids", opts.ids, "task ids to requeue");
    requeue->add_flag("--all", opts.all, "requeue every dead letter");
    requeue->callback([&opts] { opts.action = "requeue"; });

    auto* purge = cmd->add_subcommand("purge", "delete dead letters: these ids, or every one");
    purge->add_option("ids", opts.ids, "task ids to delete (none: every dead letter)");
    purge->add_flag("--yes", opts.yes, "really delete them");
    purge->callback([&opts] { opts.action = "purge"; });

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
    if (opts.action == "requeue" && opts.all == !opts.ids.empty()) {
        std::cerr << "error: dead requeue: give task ids or --all (not both)\n";
        return exit_usage;
    }
    try {
        if (!opts.direct) return run_action(*serve::dead_letters_through_serve(s.send.server, net::client_options_of(opts.auth)), opts);
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
