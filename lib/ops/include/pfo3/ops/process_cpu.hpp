#pragma once
// CPU time of local processes from /proc (Linux): what `pfo3 bench` divides by the tasks it
// ran to say where each task's CPU went, and what a future /metrics exports as
// process_cpu_seconds_total.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pfo3::ops {

/// The fields of one /proc/PID/stat line that CPU accounting needs (times in clock ticks).
struct proc_stat {
    int pid = 0;
    int ppid = 0;
    std::uint64_t utime = 0, stime = 0;    ///< this process
    std::uint64_t cutime = 0, cstime = 0;  ///< children it has waited for
};

/// Parses a /proc/PID/stat line. The command name may hold spaces and parentheses, so the
/// fields are counted from the last ')'. nullopt if the line is not one.
std::optional<proc_stat> parse_proc_stat(std::string_view line);

/// CPU seconds (user + system) used so far by `pid`, by every live process below it and by
/// the children any of them has waited for: a database that forks a backend per connection
/// is counted whole. A process of the tree that ends and is reaped in between two readings
/// moves its whole life's CPU into its parent's, so a difference can then over-count by what
/// it had used before the first reading. nullopt (with the reason in `error`) if `pid` is
/// not a process on this machine.
std::optional<double> cpu_seconds_of_tree(int pid, std::string& error);

}  // namespace pfo3::ops
