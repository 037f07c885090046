#pragma once
// CPU time of local processes from /proc (Linux): what `pfo3 bench` divides by the tasks it
// ran to say where each task's CPU went, and what a future /metrics exports as
// process_cpu_seconds_total.
#include <cstdint>
#include <map>
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

/// Every process on the machine at one moment, by pid: one pass over /proc serves every
/// process a caller asks about.
using process_table = std::map<int, proc_stat>;

/// Reads /proc. A process that ends during the pass is simply not there.
std::optional<process_table> read_process_table(std::string& error);

/// CPU seconds (user + system) used so far by `pid`, by every live process below it and by
/// the children any of them has waited for: a database that forks a backend per connection
/// is counted whole. A process of the tree that ends and is reaped in between two readings
/// moves its whole life's CPU into its parent's, so a difference can then over-count by what
/// it had used before the first reading. nullopt if `pid` is not in the table.
std::optional<double> cpu_seconds_of_tree(const process_table& table, int pid);

}  // namespace pfo3::ops
