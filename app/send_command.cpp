#include "send_command.hpp"

#include <iostream>

#include "pfo3/config/load.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/json/client_requests.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/net/asking.hpp"
#include "pfo3/net/pipelined.hpp"

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
    cmd->add_option("--at", opts.schedule.at, "run at TIME (RFC 3339, e.g. 2026-12-06T18:00:00Z): sent as \"run_at\"");
    cmd->add_option("--in", opts.schedule.in, "run after DURATION (90, 90s, 90m, 2h, 1d): sent as \"delay_s\"");
    cmd->add_option("--priority", opts.schedule.priority, "AMQP priority 0-10 (needs [amqp] max_priority on the server)")
        ->check(CLI::Range(0, 10));
    cmd->add_option("tasks", opts.tasks, "task payloads (default: lines of stdin)");
    add_client_auth_options(cmd, opts.auth);
    return cmd;
}

int run_send(config::settings s, const send_options& opts) {
    if (opts.server) s.send.server = *opts.server;
    if (opts.type) s.send.type = *opts.type;
    config::validate(s);
    std::string fields;
    auto problem = json::schedule_fields(opts.schedule, fields);
    if (!problem && !fields.empty() && opts.json)
        problem = "--at, --in and --priority apply to payloads; with --json put run_at, delay_s or priority in each "
                  "request object";
    if (problem) {
        std::cerr << "error: send: " << *problem << '\n';
        return exit_usage;
    }
    const net::client_options connect = net::client_options_of(opts.auth);

    auto make_request = [&](const std::string& task) {
        return opts.json ? task : json::encode_submit(s.send.type, fields, task);
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
        if (waiting && net::wait_for_results(s.send.server, accepted, ms_of_seconds(opts.wait_s), connect, std::cout,
                                             std::cerr) != accepted.size())
            return exit_rejected;
    } catch (const service_error& e) {
        std::cout.flush();
        std::cerr << "error: cannot reach server: " << e.what() << '\n';
        return exit_unreachable;
    }
    std::cout.flush();
    return rejected ? exit_rejected : exit_ok;
}

}  // namespace pfo3::app
