#include "pfo3/ops/process_cpu.hpp"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <vector>

namespace pfo3::ops {

namespace {

std::optional<std::string> read_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    return line;
}

template <typename T>
bool to_number(std::string_view s, T& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::optional<proc_stat> parse_proc_stat(std::string_view line) {
    // "PID (COMM) STATE PPID ..." — COMM is up to 16 bytes of anything, ')' included.
    const auto open = line.find(" (");
    const auto close = line.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
    proc_stat s;
    if (!to_number(line.substr(0, open), s.pid)) return std::nullopt;
    // Fields after COMM, numbered as in proc(5) from 3 (state).
    std::vector<std::string_view> f;
    std::string_view rest = line.substr(close + 1);
    while (!rest.empty() && f.size() < 15) {
        const auto start = rest.find_first_not_of(' ');
        if (start == std::string_view::npos) break;
        rest.remove_prefix(start);
        const auto end = std::min(rest.find(' '), rest.size());
        f.push_back(rest.substr(0, end));
        rest.remove_prefix(end);
    }
    if (f.size() < 15) return std::nullopt;  // proc(5) fields 3..17
    auto field = [&](int number) { return f[static_cast<std::size_t>(number - 3)]; };
    std::int64_t cutime = 0, cstime = 0;  // signed in proc(5)
    if (!to_number(field(4), s.ppid) || !to_number(field(14), s.utime) || !to_number(field(15), s.stime) ||
        !to_number(field(16), cutime) || !to_number(field(17), cstime) || cutime < 0 || cstime < 0)
        return std::nullopt;
    s.cutime = static_cast<std::uint64_t>(cutime);
    s.cstime = static_cast<std::uint64_t>(cstime);
    return s;
}

std::optional<process_table> read_process_table(std::string& error) {
    process_table all;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        int p = 0;
        if (!to_number(entry.path().filename().native(), p)) continue;
        auto line = read_line(entry.path().native() + "/stat");
        if (!line) continue;
        if (auto s = parse_proc_stat(*line)) all.emplace(p, *s);
    }
    if (ec) {
        error = "cannot list /proc: " + ec.message();
        return std::nullopt;
    }
    return all;
}

std::optional<double> cpu_seconds_of_tree(const process_table& table, int pid) {
    if (!table.contains(pid)) return std::nullopt;
    std::multimap<int, int> children;
    for (const auto& [p, s] : table) children.emplace(s.ppid, p);
    std::uint64_t ticks = 0;
    std::vector<int> todo{pid};
    while (!todo.empty()) {
        const int p = todo.back();
        todo.pop_back();
        const auto& s = table.at(p);
        ticks += s.utime + s.stime + s.cutime + s.cstime;
        auto [first, last] = children.equal_range(p);
        for (auto it = first; it != last; ++it) todo.push_back(it->second);
    }
    static const long hz = ::sysconf(_SC_CLK_TCK);
    return static_cast<double>(ticks) / static_cast<double>(hz > 0 ? hz : 100);
}

}  // namespace pfo3::ops
