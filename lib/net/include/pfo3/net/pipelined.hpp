#pragma once
// Sends request lines over one connection with a bounded window and hands each response to
// the caller in order. Shared by `send`, `status` and `bench` (which polls status with it).
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "pfo3/net/client.hpp"

namespace pfo3::net {

/// Yields the next request line (without '\n'), or nullopt when there are no more.
using request_source = std::function<std::optional<std::string>()>;
/// Receives the response to the n-th request (0-based), in order.
using response_sink = std::function<void(std::size_t index, const std::string& response)>;

/// Prints a rejected response as `error: CODE: MESSAGE` on `err` (after flushing `out`, so
/// the two streams stay in task order on a terminal). Returns false for such a response,
/// true if `line` is an accepted one (ok:true), which the caller prints its own way.
bool report_if_rejected(const std::string& line, std::ostream& out, std::ostream& err);

/// Returns the number of requests answered. Throws service_error when the server cannot be
/// reached or the connection breaks; `answered` then says how far it got.
std::size_t run_pipelined(const std::string& server, std::size_t window, const request_source& next,
                          const response_sink& on_response, const client_options& connect = {});

}  // namespace pfo3::net
