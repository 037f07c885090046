// `pfo3 dead`: inspect, requeue and purge the dead letters of `<queue>.dead`.
//
// Two connections, as everywhere in pfo3: a reader takes dead letters with basic.get (without
// acking them) and a writer publishes with confirms. Order of a requeue: publish to the task
// queue, wait for the confirm, THEN ack the dead letter, so a crash in between leaves the
// task in both queues (a duplicate the upserting store absorbs) rather than in neither.
// Whatever was taken and not acked goes back to `<queue>.dead` in its original position.
#include "dead_command.hpp"

#include <chrono>
#include <iostream>
#include <set>

#include "broker_options.hpp"
#include "common.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/queue/dead_letter.hpp"
#include "pfo3/queue/queue_admin.hpp"

namespace pfo3::app {

namespace {

std::string or_dash(const std::string& s) { return s.empty() ? "-" : queue::one_line(s); }

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int list(queue::queue_admin& reader, const std::string& dead, const dead_options& opts) {
    const std::uint32_t total = reader.message_count(dead);
    if (!opts.json) std::cout << "ID\tTYPE\tATTEMPT\tSUBMITTED_AT\tERROR\n";
    std::size_t shown = 0;
    // At most `total`: dead letters arriving meanwhile are not waited for.
    while (shown < total && (opts.limit == 0 || shown < opts.limit)) {
        auto m = reader.get(dead);
        if (!m) break;
        ++shown;
        if (opts.json) {
            std::cout << queue::dead_letter_json_line(m->body) << '\n';
            continue;
        }
        auto d = queue::summarize_dead_letter(m->body, m->message_id, m->type);
        std::cout << or_dash(d.id) << '\t' << or_dash(d.type) << '\t'
                  << (d.attempt > 0 ? std::to_string(d.attempt) : "-") << '\t' << or_dash(d.submitted_at) << '\t'
                  << or_dash(d.error) << '\n';
    }
    std::cout.flush();
    reader.requeue_unacked();
    // A synchronous call, so a failure of the requeue above is reported rather than lost.
    reader.message_count(dead);
    std::cerr << shown << " of " << total << " dead letters in " << dead << " shown\n";
    return exit_ok;
}

int requeue(queue::queue_admin& reader, queue::queue_admin& writer, const config::settings& s,
            const dead_options& opts) {
    const std::string dead = queue::topology{s.amqp.queue, s.amqp.queue_type}.dead_queue();
    const std::set<std::string> wanted(opts.ids.begin(), opts.ids.end());
    std::set<std::string> found;
    const auto confirm_timeout = std::chrono::milliseconds(s.serve.confirm_timeout_ms);
    std::size_t moved = 0, kept = 0;
    bool broker_trouble = false;
    const std::uint32_t total = reader.message_count(dead);
    for (std::uint32_t seen = 0; seen < total; ++seen) {
        auto m = reader.get(dead);
        if (!m) break;
        auto d = queue::summarize_dead_letter(m->body, m->message_id, m->type);
        if (!opts.all && !wanted.count(d.id)) continue;  // stays: requeued to the dead queue below
        found.insert(d.id);
        std::string why;
        auto body = queue::requeue_body(m->body, why);
        if (!body) {
            std::cerr << "error: " << or_dash(d.id) << ": cannot be a task again (" << why << "); left in " << dead
                      << '\n';
            ++kept;
            continue;
        }
        queue::outgoing_message msg;
        msg.routing_key = s.amqp.queue;
        msg.body = std::move(*body);
        msg.message_id = d.id;
        msg.type = d.type;
        msg.timestamp = now_seconds();
        auto outcome = writer.publish(msg, confirm_timeout);
        if (outcome != queue::publish_outcome::confirmed) {
            std::cerr << "error: " << d.id << ": the broker did not accept it ("
                      << (outcome == queue::publish_outcome::unroutable ? "unroutable: no queue " + s.amqp.queue
                          : outcome == queue::publish_outcome::nacked  ? std::string("nacked")
                                                                       : std::string("no confirm in time"))
                      << "); it stays in " << dead << ", stopping\n";
            broker_trouble = true;
            break;
        }
        reader.ack(m->tag);
        std::cout << d.id << '\n';
        ++moved;
    }
    std::cout.flush();
    reader.requeue_unacked();
    // A synchronous call, so that a failed ack or requeue is reported rather than lost.
    const std::uint32_t left = reader.message_count(dead);
    std::size_t missing = 0;
    for (const auto& id : wanted) {
        if (found.count(id)) continue;
        std::cerr << "error: " << id << ": no such dead letter in " << dead << '\n';
        ++missing;
    }
    std::cerr << "requeued " << moved << " dead letters to " << s.amqp.queue << " (attempt reset to 1); " << left
              << " left in " << dead << '\n';
    if (broker_trouble) return exit_unreachable;
    return kept || missing ? exit_rejected : exit_ok;
}

int purge(queue::queue_admin& reader, const std::string& dead, const dead_options& opts) {
    if (!opts.yes) {
        std::cerr << "error: refusing to delete the " << reader.message_count(dead) << " dead letters in " << dead
                  << " without --yes\n";
        return exit_usage;
    }
    std::cout << "purged " << reader.purge(dead) << " dead letters from " << dead << '\n';
    return exit_ok;
}

}  // namespace

CLI::App* setup_dead(CLI::App& root, dead_options& opts) {
    auto* cmd = root.add_subcommand("dead", "inspect, requeue or purge the dead letters (<queue>.dead)");
    cmd->add_option("--amqp", opts.amqp, "broker URL (amqp.url)");
    cmd->add_option("--queue", opts.queue, "task queue name (amqp.queue); its dead letters are in <queue>.dead");
    cmd->require_subcommand(1);

    auto* list = cmd->add_subcommand("list", "print dead letters without removing them");
    list->add_option("--limit", opts.limit, "print at most N (0: all)")->capture_default_str();
    list->add_flag("--json", opts.json, "print each message body (JSON), one per line");
    list->callback([&opts] { opts.action = "list"; });

    auto* requeue = cmd->add_subcommand("requeue", "move dead letters back to the task queue, attempt reset to 1");
    requeue->add_option("ids", opts.ids, "task ids to requeue");
    requeue->add_flag("--all", opts.all, "requeue every dead letter");
    requeue->callback([&opts] { opts.action = "requeue"; });

    auto* purge = cmd->add_subcommand("purge", "delete every dead letter");
    purge->add_flag("--yes", opts.yes, "really delete them");
    purge->callback([&opts] { opts.action = "purge"; });

    // `pfo3 dead list --amqp URL --config F` works like `pfo3 --config F dead --amqp URL list`.
    for (auto* sub : {list, requeue, purge}) sub->fallthrough();
    return cmd;
}

int run_dead(config::settings s, const dead_options& opts) {
    log::set_role("dead");
    if (opts.amqp) s.amqp.url = *opts.amqp;
    if (opts.queue) s.amqp.queue = *opts.queue;
    config::validate(s);
    config::apply_password_files(s);
    if (opts.action == "requeue" && opts.all == !opts.ids.empty()) {
        std::cerr << "error: dead requeue: give task ids or --all (not both)\n";
        return exit_usage;
    }

    auto url = broker_url_of(s);
    const queue::topology topo = topology_of(s);  // declared as serve and work declare it
    try {
        queue::queue_admin reader(url, "pfo3-dead " + opts.action);
        reader.declare(topo);
        if (opts.action == "list") return list(reader, topo.dead_queue(), opts);
        if (opts.action == "purge") return purge(reader, topo.dead_queue(), opts);
        queue::queue_admin writer(url, "pfo3-dead requeue (publisher)");
        return requeue(reader, writer, s, opts);
    } catch (const service_error& e) {
        std::cout.flush();
        std::cerr << "error: broker: " << e.what() << '\n';
        // What a retry cannot fix (credentials, vhost, a queue declared otherwise) is settings.
        return e.retryable() ? exit_unreachable : exit_usage;
    }
}

}  // namespace pfo3::app
