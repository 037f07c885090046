#include "pfo3/sight/workers_table.hpp"

#include <cstdio>

#include "pfo3/json/value.hpp"

namespace pfo3::sight {

namespace {

std::string text_of(const json::value& beat, const char* name) {
    auto v = beat.find(name);
    if (!v) return "-";
    if (v->is(json::kind::string)) return std::string(v->string());
    if (v->is(json::kind::boolean)) return v->boolean() ? "yes" : "no";
    return v->compact();
}

template <typename... Args>
void appendf(std::string& out, const char* format, Args... args) {
    const int n = std::snprintf(nullptr, 0, format, args...);
    if (n <= 0) return;
    const std::size_t at = out.size();
    out.resize(at + static_cast<std::size_t>(n) + 1);
    std::snprintf(out.data() + at, static_cast<std::size_t>(n) + 1, format, args...);
    out.resize(at + static_cast<std::size_t>(n));
}

// The tasks a worker's heartbeat says it runs, one line each under its row, oldest first.
void append_in_hand(std::string& out, const std::optional<json::value>& beat) {
    auto list = beat ? beat->find("in_hand") : std::nullopt;
    if (!list || !list->is(json::kind::array)) return;
    for (std::size_t i = 0; i < list->size(); ++i) {
        const auto t = (*list)[i];
        appendf(out, "    running %s (%s) for %ss\n", text_of(t, "id").c_str(), text_of(t, "type").c_str(),
                text_of(t, "age_s").c_str());
    }
    const auto count = beat->find("in_hand_count");
    if (count && count->int64() && static_cast<std::size_t>(*count->int64()) > list->size())
        appendf(out, "    ... and %lld more\n",
                static_cast<long long>(*count->int64() - static_cast<std::int64_t>(list->size())));
}

}  // namespace

std::optional<std::string> workers_table(std::string_view workers_json, std::string& why) {
    auto doc = json::parse(workers_json, why);
    auto list = doc ? doc->root().find("workers") : std::nullopt;
    if (!list || !list->is(json::kind::array)) return std::nullopt;
    std::string out;
    appendf(out, "%-32s %-9s %-6s %5s %8s %9s %10s %8s %8s %9s\n", "WORKER", "STATE", "READY", "CONC", "PREFETCH",
            "IN_FLIGHT", "DONE", "RETRY", "DEAD", "SEEN_AGO");
    for (std::size_t i = 0; i < list->size(); ++i) {
        const auto w = (*list)[i];
        const auto beat = w.find("beat");
        const bool gone = w.find("gone") && w.find("gone")->boolean();
        auto field = [&](const char* name) { return beat ? text_of(*beat, name) : std::string("-"); };
        appendf(out, "%-32s %-9s %-6s %5s %8s %9s %10s %8s %8s %8ss\n", text_of(w, "id").c_str(),
                gone ? "gone" : "alive", field("ready").c_str(), field("concurrency").c_str(),
                field("prefetch").c_str(), field("in_flight").c_str(), field("done").c_str(), field("retry").c_str(),
                field("dead").c_str(), text_of(w, "seen_s_ago").c_str());
        append_in_hand(out, beat);
    }
    return out;
}

}  // namespace pfo3::sight
