#include "results.hpp"

#include <thread>
#include <unordered_map>

#include "pfo3/json/client_requests.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/net/pipelined.hpp"

namespace pfo3::bench {

namespace {

using clock = std::chrono::steady_clock;

// How often the waits look again; only bounds how late the wait ends, never a measured time
// in inotify mode (the watch thread stamps each event itself).
constexpr auto recheck = std::chrono::milliseconds(20);

std::int64_t ns_since(clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count();
}

}  // namespace

results_seen wait_in_store(result_watch& watch, const load_result& load, std::chrono::milliseconds timeout) {
    results_seen seen;
    seen.stored_ns.assign(load.ids.size(), -1);
    std::unordered_map<std::string_view, std::size_t> index;
    index.reserve(load.ids.size());
    for (std::size_t i = 0; i < load.ids.size(); ++i) index.emplace(load.ids[i], i);
    std::size_t pending = load.ids.size();
    watch.set_start(load.start);
    const auto deadline = clock::now() + timeout;
    for (;;) {
        for (auto& ev : watch.take()) {
            auto it = index.find(ev.id);
            if (it == index.end() || seen.stored_ns[it->second] >= 0) continue;
            seen.stored_ns[it->second] = ev.at_ns;
            --pending;
        }
        if (pending > 0 && watch.overflowed()) {
            // The kernel dropped events: look for the files themselves; the time is when we
            // found them, an upper bound.
            const std::int64_t now_ns = ns_since(load.start);
            for (std::size_t i = 0; i < load.ids.size(); ++i) {
                if (seen.stored_ns[i] >= 0) continue;
                if (watch.present(load.ids[i])) {
                    seen.stored_ns[i] = now_ns;
                    seen.late_detection = true;
                    --pending;
                }
            }
        }
        if (pending == 0 || clock::now() >= deadline) return seen;
        std::this_thread::sleep_for(recheck);
    }
}

results_seen wait_by_status(const std::string& server, const std::string& token,
                            const net::client_tls_options& tls, const load_result& load, std::chrono::milliseconds timeout) {
    results_seen seen;
    seen.stored_ns.assign(load.ids.size(), -1);
    std::vector<std::size_t> pending(load.ids.size());
    for (std::size_t i = 0; i < pending.size(); ++i) pending[i] = i;
    const auto deadline = clock::now() + timeout;
    while (!pending.empty()) {
        std::size_t next = 0;
        net::request_source source = [&]() -> std::optional<std::string> {
            if (next == pending.size()) return std::nullopt;
            return json::encode_status_request(load.ids[pending[next++]]);
        };
        std::vector<std::size_t> still;
        net::client_options connect;
        connect.token = token;
        connect.tls = tls;
        net::run_pipelined(server, 256, source, [&](std::size_t n, const std::string& line) {
            auto r = json::decode_response(line);
            const std::size_t i = pending[n];
            if (r && r->ok && (r->status == "done" || r->status == "dead")) seen.stored_ns[i] = ns_since(load.start);
            else still.push_back(i);
        }, connect);
        pending.swap(still);
        if (pending.empty() || clock::now() >= deadline) break;
        std::this_thread::sleep_for(recheck);
    }
    return seen;
}

}  // namespace pfo3::bench
