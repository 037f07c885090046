#pragma once
// The name this process goes by: in the records a worker writes and in the names of its broker
// connections (RabbitMQ's management UI shows them).
#include <string>

namespace pfo3::ops {

/// "HOST:PID" (HOST "unknown" if the host name cannot be read). Thread-safe.
std::string process_identity();

}  // namespace pfo3::ops
