#include "pfo3/net/pipelined.hpp"

#include "pfo3/core/error.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/net/client.hpp"

namespace pfo3::net {

bool report_if_rejected(const std::string& line, std::ostream& out, std::ostream& err) {
    auto r = json::decode_response(line);
    if (r && r->ok) return true;
    out.flush();
    if (r) err << "error: " << r->error << ": " << r->message << '\n';
    else err << "error: bad_response: " << line << '\n';
    return false;
}

std::size_t run_pipelined(const std::string& server, std::size_t window, const request_source& next,
                          const response_sink& on_response, const client_options& connect) {
    client conn(server, connect);
    std::size_t sent = 0, answered = 0;
    std::string batch;
    bool more = true;
    while (more || answered < sent) {
        // Fill the window, writing in batches: one syscall for many small requests.
        batch.clear();
        while (more && sent - answered < window) {
            auto req = next();
            if (!req) {
                more = false;
                break;
            }
            batch += *req;
            batch += '\n';
            ++sent;
            if (batch.size() >= 64 * 1024) break;
        }
        if (!batch.empty()) conn.write(batch);
        // Read at least one response, then whatever keeps the window from being full.
        while (answered < sent && (!more || sent - answered >= window || batch.empty())) {
            auto line = conn.read_line();
            if (!line)
                throw service_error("server " + server + " closed the connection after " +
                                        std::to_string(answered) + " of " + std::to_string(sent) +
                                        " responses",
                                    true);
            on_response(answered++, *line);
            if (more && sent - answered < window) break;
        }
    }
    return answered;
}

}  // namespace pfo3::net
