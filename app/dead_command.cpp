// `pfo3 dead`: inspect, requeue and purge the dead letters of `<queue>.dead`. Only the command
// line lives here: the work is queue::dead_letters (decision 0015), reached through serve's
// dead_* ops by default or, with --direct, on this thread against the broker. Both paths give
// the same structs, printed the same way.
#include "dead_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "broker_options.hpp"
#include "common.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/net/client.hpp"
#include "pfo3/queue/dead_letters.hpp"
#include "pfo3/serve/dead_letter_replies.hpp"

namespace pfo3::app {

namespace {

// Letters one requeue request over serve moves, so a long requeue shows progress.
constexpr std::size_t requeue_batch = 100;
// One request over serve may move max_dead_limit letters, each waiting for a confirm.
constexpr auto answer_timeout = std::chrono::minutes(5);

// Thrown once the reason is printed: the exit status.
struct stop_with {
    int code;
};

std::string or_dash(const std::string& s) { return s.empty() ? "-" : queue::one_line(s); }

// Where the letters are reached. Names of the queues come back with the answers.
class dead_path {
public:
    virtual ~dead_path() = default;
    virtual queue::dead_listing list(std::size_t limit, std::string& dead_queue) = 0;
    /// Calls `moved` with the ids just moved (in order) and the letters left (0: not known).
    virtual queue::requeue_report requeue(const queue::dead_selection& which, std::string& task_queue,
                                          const std::function<void(const std::vector<std::string>&, std::uint32_t left)>& moved) = 0;
    virtual queue::purge_report purge(const queue::dead_selection& which, std::string& dead_queue) = 0;
};

class direct_path final : public dead_path {
public:
    explicit direct_path(const config::settings& s)
        : d_(broker_url_of(s), topology_of(s), std::chrono::milliseconds(s.serve.confirm_timeout_ms), "pfo3-dead") {}

    queue::dead_listing list(std::size_t limit, std::string& dead_queue) override {
        dead_queue = d_.dead_queue();
        return d_.list({limit, SIZE_MAX, SIZE_MAX});
    }
    queue::requeue_report requeue(const queue::dead_selection& which, std::string& task_queue,
                                  const std::function<void(const std::vector<std::string>&, std::uint32_t)>& moved) override {
        task_queue = d_.task_queue();
        std::vector<std::string> so_far;
        return d_.requeue(which, 0, [&](const std::string& id) {
            so_far.assign(1, id);
            moved(so_far, 0);
        });
    }
    queue::purge_report purge(const queue::dead_selection& which, std::string& dead_queue) override {
        dead_queue = d_.dead_queue();
        return d_.purge(which);
    }

private:
    queue::dead_letters d_;
};

class serve_path final : public dead_path {
public:
    serve_path(const std::string& server, const net::client_options& o) : server_(server), c_(server, o) {}

    queue::dead_listing list(std::size_t limit, std::string& dead_queue) override {
        const std::size_t n = limit == 0 ? json::max_dead_limit : std::min(limit, json::max_dead_limit);
        const std::string line = ask("{\"op\":\"dead_list\",\"limit\":" + std::to_string(n) + "}");
        return decoded(serve::decode_dead_listing(line, dead_queue, why_), line);
    }

    queue::requeue_report requeue(const queue::dead_selection& which, std::string& task_queue,
                                  const std::function<void(const std::vector<std::string>&, std::uint32_t)>& moved) override {
        queue::requeue_report total;
        auto one = [&](const std::string& request) {
            const std::string line = ask(request);
            bool more = false;
            auto r = decoded(serve::decode_requeue_report(line, task_queue, more, why_), line);
            total.moved.insert(total.moved.end(), r.moved.begin(), r.moved.end());
            if (!r.moved.empty()) moved(r.moved, r.left);
            total.missing.insert(total.missing.end(), r.missing.begin(), r.missing.end());
            total.left = r.left;
            total.trouble = r.trouble;
            return std::pair{std::move(r), more};
        };
        if (which.all) {
            // In batches, so progress shows; never more than were dead at the start, so letters
            // that die again meanwhile (the handler still missing) are not chased round.
            std::string ignored;
            const std::uint32_t at_start = list(1, ignored).total;
            // Letters that can never be tasks stay at the head and are seen by every batch.
            while (total.moved.size() + total.kept.size() < at_start) {
                const std::size_t n =
                    std::min<std::size_t>(requeue_batch, at_start - total.moved.size() - total.kept.size());
                auto [r, more] = one("{\"op\":\"dead_requeue\",\"all\":true,\"limit\":" + std::to_string(n) + "}");
                total.kept = std::move(r.kept);  // each batch looks at every letter before its last: the latest are all
                if (!total.trouble.empty() || !more) break;
            }
            return total;
        }
        for (std::size_t from = 0; from < which.ids.size() && total.trouble.empty(); from += json::max_dead_ids) {
            const auto end = which.ids.begin() + static_cast<std::ptrdiff_t>(std::min(which.ids.size(), from + json::max_dead_ids));
            auto [r, more] = one("{\"op\":\"dead_requeue\",\"ids\":" + id_array(which.ids.begin() + static_cast<std::ptrdiff_t>(from), end) + "}");
            total.kept.insert(total.kept.end(), r.kept.begin(), r.kept.end());
        }
        return total;
    }

    queue::purge_report purge(const queue::dead_selection& which, std::string& dead_queue) override {
        if (which.all) {
            const std::string line = ask("{\"op\":\"dead_purge\",\"all\":true}");
            return decoded(serve::decode_purge_report(line, dead_queue, why_), line);
        }
        queue::purge_report total;
        for (std::size_t from = 0; from < which.ids.size(); from += json::max_dead_ids) {
            const auto begin = which.ids.begin() + static_cast<std::ptrdiff_t>(from);
            const auto end = which.ids.begin() + static_cast<std::ptrdiff_t>(std::min(which.ids.size(), from + json::max_dead_ids));
            const std::string line = ask("{\"op\":\"dead_purge\",\"ids\":" + id_array(begin, end) + "}");
            auto r = decoded(serve::decode_purge_report(line, dead_queue, why_), line);
            total.purged += r.purged;
            total.missing.insert(total.missing.end(), r.missing.begin(), r.missing.end());
            total.left = r.left;
        }
        return total;
    }

private:
    static std::string id_array(std::vector<std::string>::const_iterator b, std::vector<std::string>::const_iterator e) {
        std::string out = "[";
        for (auto i = b; i != e; ++i) {
            if (i != b) out.push_back(',');
            json::append_quoted(out, *i);
        }
        return out + "]";
    }

    // One request, one answer. A refusal is printed and ends the command; a dead_requeue that
    // stopped midway (ok:false with its fields) is an answer.
    std::string ask(const std::string& request) {
        c_.write(request + "\n");
        auto line = c_.read_line(answer_timeout);
        if (!line) throw service_error("serve at " + server_ + " closed the connection without answering", true);
        auto r = json::decode_response(*line);
        if (r && (r->ok || line->find("\"op\":\"dead_requeue\"") != std::string::npos)) return *line;
        std::cout.flush();
        if (!r) {
            std::cerr << "error: bad_response: " << *line << '\n';
            throw stop_with{exit_rejected};
        }
        std::cerr << "error: " << r->error << ": " << r->message << '\n';
        if (r->error == "unavailable" || r->error == "overloaded") throw stop_with{exit_unreachable};
        throw stop_with{r->error == "bad_request" ? exit_usage : exit_rejected};
    }

    template <class T>
    T decoded(std::optional<T> v, const std::string& line) {
        if (v) return std::move(*v);
        std::cerr << "error: bad_response: " << why_ << ": " << line << '\n';
        throw stop_with{exit_rejected};
    }

    std::string server_;
    net::client c_;
    std::string why_;
};

int list(dead_path& p, const dead_options& opts) {
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

int requeue(dead_path& p, const dead_options& opts) {
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

int purge(dead_path& p, const dead_options& opts) {
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

int run_action(dead_path& p, const dead_options& opts) {
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
        if (!opts.direct) {
            serve_path p(s.send.server, client_options_of(opts.auth));
            return run_action(p, opts);
        }
        config::apply_password_files(s);
        direct_path p(s);
        return run_action(p, opts);
    } catch (const stop_with& e) {
        return e.code;
    } catch (const service_error& e) {
        std::cout.flush();
        std::cerr << (opts.direct ? "error: broker: " : "error: cannot reach server: ") << e.what() << '\n';
        // What a retry cannot fix (credentials, vhost, a queue declared otherwise) is settings.
        return e.retryable() ? exit_unreachable : exit_usage;
    }
}

}  // namespace pfo3::app
