#include "pfo3/ops/process_figures.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>


namespace pfo3::ops {

namespace {

// Unix time of boot, from /proc/stat's btime: the base of a process's starttime.
std::uint64_t boot_time() {
    std::ifstream in("/proc/stat");
    std::string key;
    std::uint64_t value = 0;
    while (in >> key) {
        if (key == "btime" && in >> value) return value;
        in.ignore(1 << 20, '\n');
    }
    return 0;
}

// Field 22 (starttime, clock ticks after boot) of /proc/self/stat, counted after the last ')'.
std::uint64_t start_ticks() {
    std::ifstream in("/proc/self/stat");
    std::string line;
    if (!std::getline(in, line)) return 0;
    const auto close = line.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(line.substr(close + 1));
    std::string field;
    for (int n = 3; n <= 22 && rest >> field; ++n)
        if (n == 22) return std::stoull(field);
    return 0;
}

double start_time() {
    static const double t = [] {
        const long hz = sysconf(_SC_CLK_TCK);
        const auto boot = boot_time();
        if (hz <= 0 || boot == 0) return 0.0;
        return static_cast<double>(boot) + static_cast<double>(start_ticks()) / static_cast<double>(hz);
    }();
    return t;
}

}  // namespace

process_figures read_process_figures() {
    process_figures f;
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        f.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                        static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    std::ifstream statm("/proc/self/statm");
    std::uint64_t pages_virtual = 0, pages_resident = 0;
    if (statm >> pages_virtual >> pages_resident) {
        const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
        f.virtual_bytes = pages_virtual * page;
        f.resident_bytes = pages_resident * page;
    }
    if (DIR* d = opendir("/proc/self/fd")) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') ++f.open_fds;
        closedir(d);
        if (f.open_fds > 0) --f.open_fds;  // the descriptor of the listing itself
    }
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) f.max_fds = lim.rlim_cur;
    f.start_time_seconds = start_time();
    return f;
}

}  // namespace pfo3::ops
