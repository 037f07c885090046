#pragma once
// The serve role assembled from its settings: the client port (net::server and the request
// dispatcher), the publisher, the status readers, the dead-letter desk, the cancel events, and
// the operations endpoints with the status page (lib/sight). app/serve_command.cpp parses the
// flags and calls run().
#include "pfo3/config/settings.hpp"

namespace pfo3::serve {

/// Runs serve with validated settings (password files applied) until SIGTERM/SIGINT and the
/// graceful stop. Throws config_error for settings it cannot use (an unprotected port, queues
/// declared otherwise on the broker), anything else it cannot recover from as it comes.
void run(const config::settings& s);

}  // namespace pfo3::serve
