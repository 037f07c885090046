#pragma once
// RabbitMQ's management HTTP API (plugin rabbitmq_management), read-only: the queues of a
// vhost with their type, arguments, leader and members, for `pfo3 admin queues`. The API
// answers from any node with the whole cluster's view, needs no Erlang cookie, and works
// from any host that reaches port 15672 (decision 0013).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pfo3::broker_api {

/// Where the API listens and who asks.
struct endpoint {
    std::string url;       ///< "http://host:15672" or "https://host:15671" (no path)
    std::string user;
    std::string password;  ///< never logged or printed
    std::string ca_file;   ///< https: the CA bundle to trust; empty: the system's
    std::chrono::milliseconds timeout{10000};
};

/// One queue as the broker reports it.
struct broker_queue {
    std::string name;
    std::string type;    ///< "classic", "quorum" or "stream"
    std::string leader;  ///< quorum: the leader's node; classic: the queue's node
    std::vector<std::string> members;  ///< quorum: every member's node; classic: its node
    std::vector<std::string> online;   ///< quorum: the members online; classic: its node
    /// Each argument and its value as text (a string as is, an integer in decimal, anything
    /// else as compact JSON), in the broker's order.
    std::vector<std::pair<std::string, std::string>> arguments;
    std::int64_t messages = -1;   ///< -1: not reported (yet: the broker collects stats every 5 s)
    std::int64_t consumers = -1;
};

/// The queues of `vhost` called `prefix` or starting with `prefix` + "." (a pfo3 task queue
/// and every queue named after it), page by page. Throws service_error naming the URL
/// (retryable() true when another node may answer: connection refused, timeout, 5xx).
std::vector<broker_queue> list_queues(const endpoint& ep, const std::string& vhost, const std::string& prefix);

/// Parses one page of GET /api/queues/<vhost>?page=... ({"items": [...], "page_count": N});
/// returns its queues and sets `pages`. Throws service_error on what is not such a page.
std::vector<broker_queue> parse_queue_page(std::string_view body, std::int64_t& pages);

}  // namespace pfo3::broker_api
