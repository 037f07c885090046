#pragma once
// What the processes of a deployment cost while `pfo3 bench` ran: CPU time of each (with what
// it forked, through ops/process_cpu) and peak memory, for local processes named by pid.
#include <chrono>
#include <string>
#include <vector>

#include "report.hpp"

namespace pfo3::bench {

/// Parses --cpu-pids NAME=PID,… (the broker, a database: other local processes to account
/// for) into subjects whose seconds are still unknown; throws config_error naming a bad entry.
std::vector<process_cpu_use> named_pids(const std::vector<std::string>& specs);

/// Reads VmHWM and VmRSS of `pid` from /proc/PID/status; never throws (the reason goes to
/// `error`).
process_memory read_process_memory(std::string role, int pid);

/// The CPU the subjects use from its construction to finish(). Not thread-safe.
class cpu_meter {
public:
    /// Reads every subject's CPU now; `subjects` must outlive the meter.
    explicit cpu_meter(std::vector<process_cpu_use>& subjects);

    /// Sets each subject's seconds (where both readings worked) and returns the wall time.
    double finish();

private:
    std::vector<double> read();

    std::vector<process_cpu_use>& subjects_;
    std::vector<double> start_;
    std::chrono::steady_clock::time_point t0_;
};

}  // namespace pfo3::bench
