#pragma once
// This process's own figures for /metrics (the standard process_* metrics): CPU seconds, memory,
// descriptors, start time. Read from getrusage, getrlimit and /proc/self on each call.
#include <cstdint>

namespace pfo3::ops {

struct process_figures {
    double cpu_seconds = 0;           ///< user + system, every thread
    std::uint64_t resident_bytes = 0;
    std::uint64_t virtual_bytes = 0;
    std::uint64_t open_fds = 0;
    std::uint64_t max_fds = 0;        ///< the soft RLIMIT_NOFILE
    double start_time_seconds = 0;    ///< unix time the process started
};

/// Reads them now; a figure /proc does not give stays 0.
process_figures read_process_figures();

}  // namespace pfo3::ops
