#include "send_command.hpp"

#include <iostream>

#include "common.hpp"
#include "pfo3/config/load.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/net/pipelined.hpp"
#include "status_command.hpp"

namespace pfo3::app {

CLI::App* setup_send(CLI::App& root, send_options& opts) {
    auto* cmd = root.add_subcommand("send", "submit tasks to pfo3 serve (arguments, or one per line of stdin)");
    cmd->add_option("--server", opts.server, "HOST:PORT of pfo3 serve (send.server)");
    cmd->add_option("--type", opts.type, "task type (send.type)");
    cmd->add_flag("--json", opts.json, "each task is a whole request object, not a payload");
    // A flag, so `--wait TASK` never takes the task for the number: the value needs `=`.
    opts.wait_flag = cmd->add_flag("--wait{60}", opts.wait_s,
                  "--wait[=SECONDS]: wait (default 60 s) for the results and print them as status lines")
        ->check(CLI::Range(0.0, 86400.0));
    cmd->add_option("--at", opts.at, "run at TIME (RFC 3339, e.g. 2026-12-06T18:00:00Z): sent as \"run_at\"");
    cmd->add_option("--in", opts.in, "run after DURATION (90, 90s, 90m, 2h, 1d): sent as \"delay_s\"");
    cmd->add_option("--priority", opts.priority, "AMQP priority 0-10 (needs [amqp] max_priority on the server)")
        ->check(CLI::Range(0, 10));
    cmd->add_option("tasks", opts.tasks, "task payloads (default: lines of stdin)");
    add_client_auth_options(cmd, opts.auth);
    return cmd;
}

namespace {

// "90" or "90s", "90m", "2h", "1d" in seconds; nullopt for anything else or above a year.
std::optional<std::int64_t> parse_duration(const std::string& text) {
    std::size_t digits = 0;
    while (digits < text.size() && digits < 9 && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0) return std::nullopt;
    const std::int64_t n = std::stoll(text.substr(0, digits));
    const std::string unit = text.substr(digits);
    std::int64_t scale = 0;
    if (unit.empty() || unit == "s") scale = 1;
    else if (unit == "m") scale = 60;
    else if (unit == "h") scale = 3600;
    else if (unit == "d") scale = 86400;
    if (scale == 0 || n * scale > 366 * 86400) return std::nullopt;
    return n * scale;
}

// The request fields --at, --in and --priority add (with a leading comma), or a usage error.
std::optional<std::string> schedule_fields(const send_options& opts, std::string& extra) {
    if (opts.at && opts.in) return "give --at or --in, not both";
    if (opts.at) {
        if (!parse_rfc3339(*opts.at)) return "--at: not an RFC 3339 time (like 2026-12-06T18:00:00Z): " + *opts.at;
        extra += ",\"run_at\":" + json::quote(*opts.at);
    }
    if (opts.in) {
        const auto seconds = parse_duration(*opts.in);
        if (!seconds) return "--in: expected a duration like 90, 90s, 90m, 2h or 1d (at most a year), got " + *opts.in;
        extra += ",\"delay_s\":" + std::to_string(*seconds);
    }
    if (opts.priority) extra += ",\"priority\":" + std::to_string(*opts.priority);
    if (!extra.empty() && opts.json) return "--at, --in and --priority apply to payloads; with --json put run_at, "
                                             "delay_s or priority in each request object";
    return std::nullopt;
}

}  // namespace

int run_send(config::settings s, const send_options& opts) {
    if (opts.server) s.send.server = *opts.server;
    if (opts.type) s.send.type = *opts.type;
    config::validate(s);
    std::string extra;
    if (auto problem = schedule_fields(opts, extra)) {
        std::cerr << "error: send: " << *problem << '\n';
        return exit_usage;
    }
    const net::client_options connect = net::client_options_of(opts.auth);

    const std::string type_prefix = "{\"type\":" + json::quote(s.send.type) + extra + ",\"payload\":";
    auto make_request = [&](const std::string& task) {
        return opts.json ? task : type_prefix + json::quote(task) + "}";
    };
    std::size_t next_arg = 0;
    net::request_source next = [&]() -> std::optional<std::string> {
        if (!opts.tasks.empty()) {
            if (next_arg == opts.tasks.size()) return std::nullopt;
            return make_request(opts.tasks[next_arg++]);
        }
        std::string line;
        while (std::getline(std::cin, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!line.empty()) return make_request(line);
        }
        return std::nullopt;
    };

    const bool waiting = opts.wait_flag && opts.wait_flag->count() > 0;
    std::size_t rejected = 0;
    std::vector<std::string> accepted;
    auto on_response = [&](std::size_t, const std::string& line) {
        if (!net::report_if_rejected(line, std::cout, std::cerr)) {
            ++rejected;
            return;
        }
        auto id = json::decode_response(line)->id;
        if (waiting) accepted.push_back(id);
        else std::cout << id << '\n';
    };
    try {
        net::run_pipelined(s.send.server, opts.window, next, on_response, connect);
    } catch (const service_error& e) {
        std::cout.flush();
        std::cerr << "error: cannot reach server: " << e.what() << '\n';
        return exit_unreachable;
    }
    if (waiting) {
        try {
            const auto timeout = ms_of_seconds(opts.wait_s);
            if (wait_for_results(s.send.server, accepted, timeout, connect) != accepted.size()) return exit_rejected;
        } catch (const service_error& e) {
            std::cerr << "error: cannot reach server: " << e.what() << '\n';
            return exit_unreachable;
        }
    }
    std::cout.flush();
    return rejected ? exit_rejected : exit_ok;
}

}  // namespace pfo3::app
