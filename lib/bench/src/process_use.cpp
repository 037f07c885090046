#include "process_use.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

#include "pfo3/core/error.hpp"
#include "pfo3/ops/process_cpu.hpp"

namespace pfo3::bench {

std::vector<process_cpu_use> named_pids(const std::vector<std::string>& specs) {
    std::vector<process_cpu_use> out;
    for (const auto& spec : specs) {
        const auto eq = spec.find('=');
        const std::string name = spec.substr(0, eq);
        const std::string digits = eq == std::string::npos ? "" : spec.substr(eq + 1);
        int pid = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
        const bool name_ok = eq != std::string::npos && !name.empty() && name.size() <= 32 &&
                             name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
        if (!name_ok || ec != std::errc() || end != digits.data() + digits.size() || pid <= 0)
            throw config_error("bench: --cpu-pids '" + spec + "': expected NAME=PID (NAME of a-z 0-9 _ -, PID > 0)");
        out.push_back({name, pid, -1, {}});
    }
    return out;
}

process_memory read_process_memory(std::string role, int pid) {
    process_memory m;
    m.role = std::move(role);
    m.pid = pid;
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    if (!in) {
        m.error = "no process " + std::to_string(pid) + " on this machine (or /proc is not readable)";
        return m;
    }
    std::string line;
    while (std::getline(in, line)) {
        auto value = [&](const char* key) -> long {
            std::istringstream s(line.substr(std::string(key).size()));
            long v = -1;
            s >> v;
            return v;
        };
        if (line.rfind("VmHWM:", 0) == 0) m.peak_kib = value("VmHWM:");
        if (line.rfind("VmRSS:", 0) == 0) m.current_kib = value("VmRSS:");
    }
    if (m.peak_kib < 0) m.error = "no VmHWM in /proc/" + std::to_string(pid) + "/status";
    return m;
}

cpu_meter::cpu_meter(std::vector<process_cpu_use>& subjects)
    : subjects_(subjects), start_(read()), t0_(std::chrono::steady_clock::now()) {}

double cpu_meter::finish() {
    const auto end = read();
    for (std::size_t i = 0; i < subjects_.size(); ++i)
        if (start_[i] >= 0 && end[i] >= 0) subjects_[i].seconds = end[i] - start_[i];
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

// Every subject's CPU seconds now, from one pass over /proc; -1 (and the reason) where it
// cannot be read.
std::vector<double> cpu_meter::read() {
    std::vector<double> now(subjects_.size(), -1);
    if (subjects_.empty()) return now;
    std::string error;
    const auto table = ops::read_process_table(error);
    for (std::size_t i = 0; i < subjects_.size(); ++i) {
        auto& c = subjects_[i];
        auto s = table ? ops::cpu_seconds_of_tree(*table, c.pid) : std::nullopt;
        if (s) now[i] = *s;
        else if (c.error.empty())
            c.error = table ? "no process " + std::to_string(c.pid) + " on this machine" : error;
    }
    return now;
}

}  // namespace pfo3::bench
