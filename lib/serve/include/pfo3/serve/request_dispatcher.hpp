#pragma once
// serve's answer to each request: a submit becomes a publish (a delayed one also a `scheduled`
// record), status and cancel go to the status_reader threads, ping is answered at once.
#include <memory>
#include <string>

#include "pfo3/config/settings.hpp"
#include "pfo3/net/dispatcher.hpp"

namespace pfo3::queue {
class publisher;
}
namespace pfo3::metrics {
struct serve_metrics;
}

namespace pfo3::serve {

class status_reader;
class accepted_ids;
class dead_letter_desk;

/// The dispatcher serve's net::server calls on its I/O thread. Publish completions arrive on
/// the publisher thread, status answers on a status_reader thread; both go back through the
/// reply, which the server posts to the connection's strand. Every argument must outlive the
/// dispatcher; `queue` is the routing key of task messages; `accepted` learns each id the
/// broker confirmed, so a cancel of a task queued to run now finds it (decision 0015); `dead`
/// answers the dead-letter ops on a thread of its own (decision 0016); `m` counts the requests,
/// or nothing when null ([http] metrics = false).
std::unique_ptr<net::dispatcher> make_request_dispatcher(queue::publisher& pub, std::string queue,
                                                         status_reader& status,
                                                         const config::schedule_settings& schedule,
                                                         metrics::serve_metrics* m,
                                                         std::shared_ptr<accepted_ids> accepted,
                                                         dead_letter_desk& dead);

}  // namespace pfo3::serve
