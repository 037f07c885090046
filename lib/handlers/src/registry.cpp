#include "pfo3/handlers/registry.hpp"

#include "builtins.hpp"
#include "external_runner.hpp"

namespace pfo3::handlers {

registry::registry(std::map<std::string, external_command> external) : external_(std::move(external)) {}

bool registry::knows(const std::string& type) const {
    return external_.count(type) != 0 || detail::find_builtin(type) != nullptr;
}

outcome registry::run(const task& t) const {
    // A task's own time limit replaces the handler's, shorter or longer.
    const std::chrono::milliseconds limit(t.timeout_ms);
    if (auto it = external_.find(t.type); it != external_.end()) {
        if (limit.count() <= 0) return detail::run_external(it->second, t);
        external_command cmd = it->second;
        cmd.timeout = limit;
        return detail::run_external(cmd, t);
    }
    if (auto fn = detail::find_builtin(t.type)) return fn(t.payload_json, limit);
    outcome o;
    o.status = outcome::kind::permanent;
    o.error = "unknown task type '" + t.type + "'";
    return o;
}

}  // namespace pfo3::handlers
