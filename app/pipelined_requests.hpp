#pragma once
// Sends request lines over one connection with a bounded window and hands each response to
// the caller in order. Shared by `send` and `status`.
#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace pfo3::app {

/// Yields the next request line (without '\n'), or nullopt when there are no more.
using request_source = std::function<std::optional<std::string>()>;
/// Receives the response to the n-th request (0-based), in order.
using response_sink = std::function<void(std::size_t index, const std::string& response)>;

/// Returns the number of requests answered. Throws service_error when the server cannot be
/// reached or the connection breaks; `answered` then says how far it got.
std::size_t run_pipelined(const std::string& server, std::size_t window, const request_source& next,
                          const response_sink& on_response);

}  // namespace pfo3::app
