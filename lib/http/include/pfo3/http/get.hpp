#pragma once
// The one HTTP request a pfo3 client makes: `pfo3 workers` reading serve's /api/workers.
#include <string>

namespace pfo3::http {

/// The body of GET `path` from HOST:PORT (HTTP/1.0: the server closes after the answer), with
/// `token` as a bearer token unless empty. The answer is bounded (64 MiB). Throws
/// std::runtime_error for a connection that fails, an answer that is not HTTP or not 200;
/// config_error for an address that is not HOST:PORT.
std::string get(const std::string& host_port, const std::string& path, const std::string& token);

}  // namespace pfo3::http
