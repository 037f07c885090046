#include "pfo3/queue/expected_queues.hpp"

#include <charconv>
#include <cstdint>
#include <limits>

#include "queue_arguments.hpp"

namespace pfo3::queue {

namespace {

expected_queue make(std::string name, std::string role, const detail::queue_arguments& args, std::string type) {
    expected_queue q{std::move(name), std::move(role), std::move(type), {}};
    for (const auto& a : args) {
        if (const auto* s = std::get_if<std::string>(&a.value))
            q.arguments.emplace_back(a.key, *s);
        else
            q.arguments.emplace_back(a.key, std::to_string(std::get<std::int64_t>(a.value)));
    }
    return q;
}

// The number after `prefix` in `name` ("tareas.delay.4000" -> 4000); nullopt if not all digits.
std::optional<std::int64_t> suffix_number(std::string_view name, std::string_view prefix) {
    if (!name.starts_with(prefix) || name.size() == prefix.size()) return std::nullopt;
    std::int64_t v = 0;
    const auto* first = name.data() + prefix.size();
    const auto* last = name.data() + name.size();
    const auto [end, ec] = std::from_chars(first, last, v);
    if (ec != std::errc() || end != last || v <= 0) return std::nullopt;
    return v;
}

}  // namespace

std::vector<expected_queue> expected_queues(const topology& topo) {
    return {make(topo.queue, "task", detail::task_queue_arguments(topo), topo.queue_type),
            make(topo.dead_queue(), "dead", detail::dead_queue_arguments(topo), topo.queue_type)};
}

std::optional<expected_queue> expected_queue_named(const topology& topo, std::string_view name) {
    for (auto& q : expected_queues(topo))
        if (q.name == name) return std::move(q);
    // The ladder's levels are named as topo.delay_level() names them (".delay.quorum." under a
    // quorum topology; classic levels a classic configuration left behind are not this one's).
    const std::string level_prefix = topo.delay_level(0).substr(0, topo.delay_level(0).rfind('.') + 1);
    if (const auto ttl = suffix_number(name, level_prefix)) {
        // Levels hold 2^L units: the name is a level's only if its TTL is one of them.
        std::int64_t level_ttl = topo.delay_unit.count();
        for (int level = 0; level_ttl > 0 && level_ttl <= *ttl; ++level) {
            if (level_ttl == *ttl)
                return make(std::string(name), "delay", detail::delay_queue_arguments(topo, level), topo.queue_type);
            if (level_ttl > std::numeric_limits<std::int64_t>::max() / 2) break;
            level_ttl *= 2;
        }
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace pfo3::queue
