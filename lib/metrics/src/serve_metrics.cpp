#include "pfo3/metrics/serve_metrics.hpp"

#include <stdexcept>
#include <string>

namespace pfo3::metrics {

namespace {

const char* const op_names[] = {"submit", "status", "ping", "cancel"};
constexpr request_error all_errors[] = {request_error::bad_json,     request_error::bad_request,
                                        request_error::line_too_long, request_error::unknown_op,
                                        request_error::unauthorized, request_error::unavailable,
                                        request_error::overloaded,   request_error::too_late,
                                        request_error::not_found,    request_error::forbidden,
                                        request_error::tls_required};

}  // namespace

serve_metrics::serve_metrics(registry& r, std::size_t type_limit)
    : types(type_limit),
      confirm_latency(r.add_histogram("pfo3_serve_confirm_seconds",
                                      "From a task's publish to the broker's answer (ack, nack or return).",
                                      latency_buckets())),
      accept_latency(r.add_histogram("pfo3_serve_accept_seconds",
                                     "From a submit read to its reply written, the broker's confirm included.",
                                     latency_buckets())),
      nacked(r.add_counter("pfo3_serve_publish_nacks_total", "Publishes the broker refused (basic.nack).")),
      returned(r.add_counter("pfo3_serve_publish_returns_total",
                             "Publishes the broker returned as unroutable (no task queue).")),
      accepted_(r, "pfo3_serve_tasks_accepted_total", "Submits the broker confirmed, by task type.", types, "",
                {"queued"}) {
    static_assert(std::size(all_errors) + 1 == codes);
    static_assert(std::size(op_names) == ops);
    // requests_[op][code] is indexed by the enum's value: all_errors must list it in order.
    for (std::size_t e = 0; e < std::size(all_errors); ++e)
        if (static_cast<std::size_t>(all_errors[e]) != e + 1) throw std::logic_error("all_errors out of enum order");
    for (std::size_t e = 0; e < std::size(all_errors); ++e)
        refused_[e + 1] = &r.add_counter("pfo3_serve_refused_total",
                                         "Requests and connections refused before dispatch (auth, malformed, too "
                                         "long, TLS required, connection caps), by code.",
                                         {{"code", std::string(wire_code(all_errors[e]))}});
    for (std::size_t op = 0; op < ops; ++op) {
        const std::string help = "Requests answered, by op and code (ok or the error's wire code).";
        requests_[op][0] = &r.add_counter("pfo3_serve_requests_total", help, {{"op", op_names[op]}, {"code", "ok"}});
        for (std::size_t e = 0; e < std::size(all_errors); ++e)
            requests_[op][e + 1] = &r.add_counter("pfo3_serve_requests_total", help,
                                                  {{"op", op_names[op]}, {"code", std::string(wire_code(all_errors[e]))}});
    }
}

void serve_metrics::refused(request_error code) noexcept {
    const auto i = static_cast<std::size_t>(code);
    if (i > 0 && i < codes) refused_[i]->inc();
}

void serve_metrics::request(request_op op, std::optional<request_error> error) noexcept {
    const std::size_t code = error ? static_cast<std::size_t>(*error) : 0;  // request_error starts at 1
    if (code < codes) requests_[static_cast<std::size_t>(op)][code]->inc();
}

}  // namespace pfo3::metrics
