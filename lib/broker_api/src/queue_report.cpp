#include "pfo3/broker_api/queue_report.hpp"

#include <algorithm>
#include <cstddef>
#include <map>

namespace pfo3::broker_api {

namespace {

std::string joined(const std::vector<std::string>& parts, const char* sep) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

std::string shown(const std::string& v) { return v.empty() ? "\"\"" : v; }

std::vector<std::string> differences(const queue_row& r) {
    std::vector<std::string> out;
    if (!r.actual) {
        if (r.expected && (r.expected->role == "task" || r.expected->role == "dead"))
            out.push_back("missing: serve and work declare it when they start");
        return out;
    }
    if (!r.expected) {
        out.push_back("not a queue pfo3 declares under this configuration (another topology's, or left over)");
        return out;
    }
    const auto& e = *r.expected;
    const auto& a = *r.actual;
    if (e.type != a.type) out.push_back("type: expected " + e.type + ", actual " + a.type);
    std::map<std::string, std::string> theirs(a.arguments.begin(), a.arguments.end());
    for (const auto& [key, value] : e.arguments) {
        auto it = theirs.find(key);
        if (it == theirs.end())
            out.push_back(key + ": expected " + shown(value) + ", actual (none)");
        else if (it->second != value)
            out.push_back(key + ": expected " + shown(value) + ", actual " + shown(it->second));
        if (it != theirs.end()) theirs.erase(it);
    }
    for (const auto& [key, value] : theirs)
        // A classic queue declared without arguments may report its type as one.
        if (!(key == "x-queue-type" && value == a.type && value == e.type))
            out.push_back(key + ": expected (none), actual " + shown(value));
    if (a.type == "quorum" && a.online.size() < a.members.size())
        out.push_back("members offline: " + std::to_string(a.members.size() - a.online.size()) + " of " +
                      std::to_string(a.members.size()));
    return out;
}

std::string members_of(const broker_queue& a) {
    if (a.type != "quorum") return joined(a.members, ", ");
    return std::to_string(a.online.size()) + "/" + std::to_string(a.members.size()) + ": " + joined(a.members, ", ");
}

std::string count_text(std::int64_t n) { return n < 0 ? "-" : std::to_string(n); }

}  // namespace

std::vector<queue_row> compare(const queue::topology& topo, const std::vector<broker_queue>& actual) {
    std::vector<queue_row> rows;
    std::map<std::string, const broker_queue*> by_name;
    for (const auto& q : actual) by_name.emplace(q.name, &q);
    for (auto& e : queue::expected_queues(topo)) {
        queue_row r{e.name, e, std::nullopt, {}};
        if (auto it = by_name.find(e.name); it != by_name.end()) {
            r.actual = *it->second;
            by_name.erase(it);
        }
        rows.push_back(std::move(r));
    }
    for (const auto& [name, q] : by_name) rows.push_back(queue_row{name, queue::expected_queue_named(topo, name), *q, {}});
    for (auto& r : rows) r.differences = differences(r);
    return rows;
}

std::string render(const std::vector<queue_row>& rows) {
    const std::vector<std::string> head{"QUEUE", "ROLE", "TYPE", "LEADER", "MEMBERS", "MESSAGES", "CONSUMERS", "ARGUMENTS"};
    std::vector<std::vector<std::string>> cells;
    for (const auto& r : rows) {
        const std::string role = r.expected ? r.expected->role : "-";
        if (!r.actual) {
            cells.push_back({r.name, role, r.expected ? r.expected->type : "-", "-", "-", "-", "-", "MISSING"});
            continue;
        }
        const auto& a = *r.actual;
        cells.push_back({r.name, role, a.type, a.leader.empty() ? "-" : a.leader, members_of(a), count_text(a.messages),
                         count_text(a.consumers), r.differences.empty() ? "as expected" : "DIFFERENT"});
    }
    std::vector<std::size_t> width(head.size());
    for (std::size_t c = 0; c < head.size(); ++c) {
        width[c] = head[c].size();
        for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
    }
    auto line = [&width](const std::vector<std::string>& row) {
        std::string out;
        for (std::size_t c = 0; c < row.size(); ++c) {
            out += row[c];
            if (c + 1 < row.size()) out.append(width[c] - row[c].size() + 2, ' ');
        }
        return out + "\n";
    };
    std::string out = line(head);
    for (const auto& row : cells) out += line(row);
    for (const auto& r : rows) {
        if (r.differences.empty()) continue;
        out += "\n" + r.name + ":\n";
        for (const auto& d : r.differences) out += "  " + d + "\n";
        if (r.expected && !r.expected->arguments.empty() && r.actual) {
            std::vector<std::string> want;
            for (const auto& [k, v] : r.expected->arguments) want.push_back(k + "=" + shown(v));
            out += "  pfo3 declares: " + joined(want, ", ") + "\n";
        }
    }
    return out;
}

}  // namespace pfo3::broker_api
