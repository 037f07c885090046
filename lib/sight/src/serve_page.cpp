#include "pfo3/sight/serve_page.hpp"

#include <chrono>
#include <cmath>
#include <memory>

#include "page_assets.hpp"
#include "pfo3/auth/tokens.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/value.hpp"

#ifndef PFO3_VERSION
#define PFO3_VERSION "0.0.0"
#endif

namespace pfo3::sight {

namespace {

constexpr std::size_t max_result_bytes = 4096;
constexpr std::size_t max_ids_per_action = 1000;

// The page's policy: nothing but its own origin; no inline script or style at all (the script
// and style are files of their own), no plugins, no framing, no <base>, no form posts.
constexpr const char* page_csp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

http::response json_answer(unsigned status, std::string body) {
    return http::response{status, "application/json", std::move(body)};
}

http::response json_error(unsigned status, std::string_view message) {
    return json_answer(status, "{\"ok\":false,\"error\":" + json::quote(message) + "}\n");
}

// The q-quantile of a histogram in milliseconds, interpolated in its bucket as Prometheus'
// histogram_quantile does; nullopt before the first observation.
std::optional<double> quantile_ms(const metrics::histogram& h, double q) {
    const auto& bounds = h.bounds();
    std::uint64_t total = 0;
    for (std::size_t i = 0; i <= bounds.size(); ++i) total += h.bucket(i);
    if (total == 0) return std::nullopt;
    const double rank = q * static_cast<double>(total);
    std::uint64_t below = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        const auto in = h.bucket(i);
        if (static_cast<double>(below + in) >= rank && in > 0) {
            const double lo = i ? bounds[i - 1] : 0, hi = bounds[i];
            return 1000 * (lo + (hi - lo) * (rank - static_cast<double>(below)) / static_cast<double>(in));
        }
        below += in;
    }
    return 1000 * bounds.back();  // in +Inf: the highest bound is all that is known
}

std::string number_or_null(std::optional<double> v) {
    return v ? json::number_text(std::floor(*v * 100) / 100) : std::string("null");
}

// {"p50":…,"p99":…} of `h` in milliseconds; nulls without the histogram ([http] metrics = false).
std::string quantiles_ms(const metrics::histogram* h) {
    if (!h) return "{\"p50\":null,\"p99\":null}";
    return "{\"p50\":" + number_or_null(quantile_ms(*h, 0.5)) + ",\"p99\":" + number_or_null(quantile_ms(*h, 0.99)) +
           "}";
}

// Cuts `s` to at most `n` bytes, never inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t n) {
    if (s.size() <= n) return s;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}

struct page_state {
    page_options opts;
    page_sources src;
    http_gate gate;
    std::string csrf;  // empty unless actions are on
    std::string html;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

std::string overview(const page_state& p, const role_sight& view) {
    const auto* m = p.src.metrics;
    auto [ready, readiness] = view.readiness();
    while (!readiness.empty() && readiness.back() == '\n') readiness.pop_back();
    std::string out = "{\"version\":" + json::quote(PFO3_VERSION);
    out += ",\"uptime_s\":" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                  std::chrono::steady_clock::now() - p.started)
                                                  .count());
    out += std::string(",\"ready\":") + (ready ? "true" : "false") + ",\"readiness\":" + readiness;
    const auto node = p.src.broker.note().node;  // 1-based; 0: not connected yet
    out += ",\"broker\":{\"node\":" +
           (node >= 1 && node <= p.opts.broker_nodes.size() ? json::quote(p.opts.broker_nodes[node - 1])
                                                             : std::string("null")) +
           ",\"connected\":" + (p.src.broker.up.load() ? "true" : "false") + "}";
    out += std::string(",\"metrics\":") + (m ? "true" : "false");
    out += ",\"confirm_ms\":" + quantiles_ms(m ? &m->confirm_latency : nullptr);
    out += ",\"accept_ms\":" + quantiles_ms(m ? &m->accept_latency : nullptr);
    out += ",\"accepted_total\":" + (m ? std::to_string(m->accepted_total()) : std::string("null"));
    out += ",\"store\":" + json::quote(p.opts.store);
    const auto tally = p.src.roster.count();
    std::string roster = p.src.roster.json();
    const auto open = roster.find('['), close = roster.rfind(']');
    out += ",\"workers\":{\"alive\":" + std::to_string(tally.alive) + ",\"ready\":" + std::to_string(tally.ready) +
           ",\"list\":" + (open != std::string::npos && close > open ? roster.substr(open, close - open + 1) : "[]") +
           "}";
    out += ",\"throughput\":" + p.src.minutes.json();
    out += ",\"queues\":" + p.src.queues.json();
    const auto depth = p.src.queues.messages(p.opts.dead_queue);
    out += ",\"dead_letters\":{\"depth\":" + (depth < 0 ? std::string("null") : std::to_string(depth)) +
           ",\"latest\":" + (p.src.dead.latest ? p.src.dead.latest() : std::string("null")) + "}";
    out += std::string(",\"actions\":") + (p.opts.actions && p.src.dead.run ? "true" : "false");
    return out + "}\n";
}

std::string render_html(const page_state& p) {
    std::string html(page_html_head);
    html += "<meta name=\"pfo3-version\" content=\"" + html_escape(PFO3_VERSION) + "\">\n";
    if (!p.csrf.empty()) html += "<meta name=\"pfo3-csrf\" content=\"" + html_escape(p.csrf) + "\">\n";
    html += page_html_body;
    return html;
}

// The POST of a dead-letter button: admin scope, CSRF token, same origin, a JSON body.
void dead_action(const std::shared_ptr<page_state>& p, const std::string& action, const http::request& r,
                 const http::respond& done) {
    if (auto refused = p->gate.refuse(r, auth::scope::admin)) return done(std::move(*refused));
    if (p->csrf.empty() || r.csrf_token.size() != p->csrf.size() || !auth::constant_time_equal(r.csrf_token, p->csrf))
        return done(json_error(403, "missing or wrong CSRF token (X-CSRF-Token, from the page)"));
    if (!r.origin.empty() && r.origin != "http://" + r.host && r.origin != "https://" + r.host)
        return done(json_error(403, "cross-origin request refused"));
    std::vector<std::string> ids;
    if (!r.body.empty()) {
        std::string why;
        auto doc = json::parse(r.body, why, 4);
        if (!doc || !doc->root().is(json::kind::object)) return done(json_error(400, "body: expected a JSON object"));
        if (auto list = doc->root().find("ids")) {
            if (!list->is(json::kind::array) || list->size() > max_ids_per_action)
                return done(json_error(400, "ids: expected an array of at most 1000 task ids"));
            for (std::size_t i = 0; i < list->size(); ++i) {
                const auto id = (*list)[i];
                if (!id.is(json::kind::string) || !is_valid_task_id(id.string()))
                    return done(json_error(400, "ids: element " + std::to_string(i + 1) + " is not a task id"));
                ids.emplace_back(id.string());
            }
        }
    }
    if (!p->src.dead.run) return done(json_error(501, "dead-letter actions are not available in this build"));
    PFO3_LOG(info, "status page: dead-letter action", {{"action", action}, {"ids", std::to_string(ids.size())},
                                                       {"peer", r.peer}});
    p->src.dead.run(action, std::move(ids), [done](bool ok, std::string body) {
        done(json_answer(ok ? 200 : 503, std::move(body)));
    });
}

}  // namespace

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    return out;
}

std::string record_for_page(std::string_view line, std::size_t max_bytes) {
    std::string why;
    auto doc = json::parse(line, why);
    if (!doc || !doc->root().is(json::kind::object)) return std::string(line);
    const auto root = doc->root();
    std::string out = "{";
    bool cut = false;
    for (std::size_t i = 0; i < root.size(); ++i) {
        const auto m = root.member_at(i);
        if (m.name == "ok") continue;
        if (out.size() > 1) out += ',';
        json::append_quoted(out, m.name);
        out += ':';
        std::string v = m.value.compact();
        if (m.name == "result" && v.size() > max_bytes) {
            // A string result keeps its own text; any other becomes the start of its JSON text.
            v = json::quote(utf8_prefix(m.value.is(json::kind::string) ? m.value.string() : std::string_view(v), max_bytes));
            cut = true;
        }
        out += v;
    }
    if (cut) out += ",\"result_cut\":true";
    return out + "}\n";
}

void add_status_page(role_sight& view, const http_gate& gate, page_options opts, page_sources src) {
    auto p = std::make_shared<page_state>(page_state{std::move(opts), std::move(src), gate, {}, {}});
    if (p->opts.actions) p->csrf = auth::make_token();
    p->html = render_html(*p);
    const auto refuse = [p](const http::request& r) { return p->gate.refuse(r, auth::scope::status); };

    view.add_route("/", [p, refuse](const http::request& r) {
        if (auto no = refuse(r)) return std::move(*no);
        return http::response{200,
                              "text/html; charset=utf-8",
                              p->html,
                              {{"Content-Security-Policy", page_csp},
                               {"Referrer-Policy", "no-referrer"},
                               {"X-Frame-Options", "DENY"}}};
    });
    view.add_route("/page.js", [] { return http::response{200, "text/javascript; charset=utf-8", page_script}; });
    view.add_route("/page.css", [] { return http::response{200, "text/css; charset=utf-8", page_style}; });
    view.add_route("/favicon.ico", [] { return http::response{204, "image/x-icon", ""}; });
    view.add_route("/api/overview", [p, refuse, &view](const http::request& r) {
        if (auto no = refuse(r)) return std::move(*no);
        return json_answer(200, overview(*p, view));
    });
    view.add_route("/api/task/", http::handler::deferred([p, refuse](const http::request& r, http::respond done) {
        if (auto no = refuse(r)) return done(std::move(*no));
        std::string id = r.path.substr(std::string_view("/api/task/").size());
        if (!is_valid_task_id(id))
            return done(json_error(400, "not a task id: 1-128 characters of A-Z a-z 0-9 . _ : -"));
        if (!p->src.read_task) return done(json_error(501, "task look-up is not available"));
        p->src.read_task(std::move(id), [done](std::string&& line) {
            // A status line that is not {"ok":true,…} says why the store did not answer.
            const bool ok = line.rfind("{\"ok\":true", 0) == 0;
            done(ok ? json_answer(200, record_for_page(line, max_result_bytes)) : json_answer(503, std::move(line)));
        });
    }));
    if (!p->opts.actions) return;
    for (const std::string action : {"requeue", "purge"})
        view.add_route("/api/dead/" + action,
                       http::handler::deferred([p, action](const http::request& r, http::respond done) {
                           if (r.method != "POST") {
                               return done(http::response{405, "text/plain; charset=utf-8", "POST only\n",
                                                          {{"Allow", "POST"}}});
                           }
                           dead_action(p, action, r, done);
                       }).accept_post());
}

}  // namespace pfo3::sight
