#pragma once
// The clients' questions about tasks already submitted (`pfo3 status`, `cancel`, `send --wait`):
// one request per id, pipelined over one connection, each answer printed as a line.
#include <chrono>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "pfo3/net/client.hpp"

namespace pfo3::net {

/// Sends `request(id)` for each id, pipelined; prints each accepted answer line on `out`, each
/// refusal on `err` (report_if_rejected). Returns how many were refused. Throws service_error
/// when the server cannot be reached.
std::size_t ask_each(const std::string& server, const std::vector<std::string>& ids,
                     const std::function<std::string(const std::string&)>& request, const client_options& connect,
                     std::ostream& out, std::ostream& err);

/// Asks the server for the status of `ids` until each is final (done, dead or cancelled, or a
/// refusal other than unavailable/overloaded) or `timeout` passes, then prints one status line
/// per id on `out`, in order (refusals on `err`). Returns how many ended `done`. Throws
/// service_error if the server cannot be reached.
std::size_t wait_for_results(const std::string& server, const std::vector<std::string>& ids,
                             std::chrono::milliseconds timeout, const client_options& connect, std::ostream& out,
                             std::ostream& err);

}  // namespace pfo3::net
