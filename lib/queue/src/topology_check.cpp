#include "pfo3/queue/topology_check.hpp"

#include <algorithm>
#include <optional>

#include "amqp_connection.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "queue_arguments.hpp"

namespace pfo3::queue {

namespace {

using detail::queue_argument;
using detail::queue_arguments;

/// One argument the broker reports as different: what pfo3 declares, what the queue has.
struct difference {
    std::string key;
    std::string ours;    // "(none)" when pfo3 does not set it
    std::string theirs;  // "(none)" when the queue does not have it
};

// The text between `open` and the next `close` after `from`; nullopt if absent.
std::optional<std::string> between(const std::string& s, std::string_view open, std::string_view close,
                                   std::size_t& from) {
    const auto a = s.find(open, from);
    if (a == std::string::npos) return std::nullopt;
    const auto b = s.find(close, a + open.size());
    if (b == std::string::npos) return std::nullopt;
    from = b + close.size();
    return s.substr(a + open.size(), b - a - open.size());
}

// RabbitMQ's 406: "inequivalent arg 'K' for queue 'Q' in vhost 'V': received the value 'R' of
// type 'T' but current is none" or "... but current is the value 'C' of type 'T2'".
// Returns the difference and the queue's own value (nullopt: the queue lacks the argument).
std::optional<std::pair<difference, std::optional<queue_argument>>> parse_406(const std::string& error) {
    std::size_t at = 0;
    auto key = between(error, "inequivalent arg '", "'", at);
    if (!key) return std::nullopt;
    const auto received = between(error, "received the value '", "'", at);  // absent: "received none"
    static constexpr std::string_view current = "but current is ";
    const auto cur = error.find(current, at);
    if (cur == std::string::npos) return std::nullopt;
    difference d{*key, !received ? "(none)" : received->empty() ? "\"\"" : *received, "(none)"};
    std::size_t from = cur;
    if (error.compare(cur + current.size(), 4, "none") == 0) return std::make_pair(d, std::nullopt);
    auto value = between(error, "the value '", "'", from);
    auto type = between(error, "of type '", "'", from);
    if (!value || !type) return std::nullopt;
    d.theirs = *value;
    queue_argument theirs{*key, *value};
    if (*type != "longstr") {
        try {
            theirs.value = static_cast<std::int64_t>(std::stoll(*value));
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    return std::make_pair(d, theirs);
}

// Declares `name` with `args` on fresh connections, learning one difference per refusal and
// declaring again with the queue's own value, until the broker agrees (every difference
// found), or a refusal cannot be read. Throws service_error for anything but a 406.
std::vector<difference> differences(const amqp_url& url, const broker_failover& broker, const std::string& name,
                                    queue_arguments args) {
    std::vector<difference> found;
    for (std::size_t round = 0; round <= args.size() + 4; ++round) {
        detail::connection c(url, "pfo3-topology-check", 0, broker.connect_timeout);
        try {
            c.declare_durable(name, detail::argument_table(args).get(), "declare queue");
            c.close();
            return found;
        } catch (const service_error& e) {
            const std::string what = e.what();
            if (e.retryable() || what.find("406 PRECONDITION_FAILED") == std::string::npos) throw;
            auto parsed = parse_406(what);
            if (!parsed) {
                found.push_back({"?", "", what});
                return found;
            }
            auto& [d, theirs] = *parsed;
            auto it = std::find_if(args.begin(), args.end(), [&](const auto& a) { return a.key == d.key; });
            if (it == args.end() && !theirs) return found;  // nothing left to learn from
            found.push_back(d);
            if (it != args.end()) args.erase(it);
            if (theirs) args.push_back(*theirs);
        }
    }
    return found;
}

[[noreturn]] void refuse(const topology& topo, const std::vector<std::pair<std::string, difference>>& diffs) {
    std::string list;
    for (const auto& [queue, d] : diffs) {
        if (!list.empty()) list += "; ";
        if (d.key == "?") {
            list += "'" + queue + "': " + d.theirs;
            continue;
        }
        list += "'" + queue + "' " + d.key + ": pfo3 declares " + d.ours + ", the queue has " + d.theirs;
    }
    throw config_error(
        "amqp.queue: the queues on the broker have other arguments than this configuration declares (" + list +
        "). pfo3 declares '" + topo.queue + "' with " + describe(detail::task_queue_arguments(topo)) + " and '" +
        topo.dead_queue() + "' with " + describe(detail::dead_queue_arguments(topo)) +
        ". Either set amqp.queue_type (and amqp.quorum_group_size, delivery_limit, max_length) to match the "
        "existing queues, or use a new amqp.queue, or move the tasks: stop serve and every worker, move the "
        "messages elsewhere (e.g. a shovel), delete the queues (rabbitmqctl delete_queue " +
        topo.queue + "; and " + topo.dead_queue() + "), then start them again");
}

}  // namespace

bool check_topology(const broker_failover& broker, const topology& topo) {
    for (const auto& url : broker.urls) {
        try {
            // The task queue first: when it differs, nothing else is created.
            std::vector<std::pair<std::string, difference>> diffs;
            for (const auto& d : differences(url, broker, topo.queue, detail::task_queue_arguments(topo)))
                diffs.emplace_back(topo.queue, d);
            if (diffs.empty())
                for (const auto& d : differences(url, broker, topo.dead_queue(), detail::dead_queue_arguments(topo)))
                    diffs.emplace_back(topo.dead_queue(), d);
            if (!diffs.empty()) refuse(topo, diffs);
            return true;
        } catch (const service_error& e) {
            PFO3_LOG(debug, "topology check: broker not usable, trying the next URL",
                     {{"url", url.masked()}, {"error", e.what()}});
        }
    }
    return false;
}

}  // namespace pfo3::queue
