#include "pfo3/net/asking.hpp"

#include <algorithm>
#include <thread>

#include "pfo3/json/client_requests.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/net/pipelined.hpp"

namespace pfo3::net {

namespace {

// One round of status requests for `ids`; answers go to `lines` (same order).
void ask_status(const std::string& server, const std::vector<std::string>& ids, std::vector<std::string>& lines,
                const client_options& connect) {
    std::size_t next_id = 0;
    lines.assign(ids.size(), {});
    run_pipelined(
        server, 256,
        [&]() -> std::optional<std::string> {
            if (next_id == ids.size()) return std::nullopt;
            return json::encode_status_request(ids[next_id++]);
        },
        [&](std::size_t i, const std::string& line) { lines[i] = line; }, connect);
}

// Final: the task is done or dead, or serve refused the question for good. `unavailable` (the
// store cannot be read right now) and `overloaded` (too many status reads waiting) pass, so
// they are asked again until the deadline like `pending`.
bool is_final(const std::string& line) {
    auto r = json::decode_response(line);
    if (!r) return true;
    if (!r->ok) return r->error != "unavailable" && r->error != "overloaded";
    return r->status == "done" || r->status == "dead" || r->status == "cancelled";
}

}  // namespace

std::size_t ask_each(const std::string& server, const std::vector<std::string>& ids,
                     const std::function<std::string(const std::string&)>& request, const client_options& connect,
                     std::ostream& out, std::ostream& err) {
    std::size_t next_id = 0, rejected = 0;
    request_source next = [&]() -> std::optional<std::string> {
        if (next_id == ids.size()) return std::nullopt;
        return request(ids[next_id++]);
    };
    auto on_response = [&](std::size_t, const std::string& line) {
        if (report_if_rejected(line, out, err)) out << line << '\n';
        else ++rejected;
    };
    run_pipelined(server, 256, next, on_response, connect);
    return rejected;
}

std::size_t wait_for_results(const std::string& server, const std::vector<std::string>& ids,
                             std::chrono::milliseconds timeout, const client_options& connect, std::ostream& out,
                             std::ostream& err) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<std::string> final_lines(ids.size());
    std::vector<std::size_t> open(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) open[i] = i;
    auto pause = std::chrono::milliseconds(20);
    std::vector<std::string> ask, lines;
    while (true) {
        ask.clear();
        for (auto i : open) ask.push_back(ids[i]);
        ask_status(server, ask, lines, connect);
        std::vector<std::size_t> still_open;
        for (std::size_t k = 0; k < open.size(); ++k) {
            final_lines[open[k]] = lines[k];
            if (!is_final(lines[k])) still_open.push_back(open[k]);
        }
        open.swap(still_open);
        if (open.empty() || std::chrono::steady_clock::now() >= deadline) break;
        // Results are polled: the store is the source of truth, and polling keeps serve
        // stateless. The pause grows so a long wait costs little.
        std::this_thread::sleep_for(std::min(pause, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        deadline - std::chrono::steady_clock::now())));
        pause = std::min(pause * 2, std::chrono::milliseconds(500));
    }
    std::size_t done = 0;
    for (const auto& line : final_lines) {
        if (report_if_rejected(line, out, err)) {
            out << line << '\n';
            auto r = json::decode_response(line);
            if (r->status == "done") ++done;
        }
    }
    out.flush();
    return done;
}

}  // namespace pfo3::net
