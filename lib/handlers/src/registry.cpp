#include "pfo3/handlers/registry.hpp"

#include "builtins.hpp"
#include "external_runner.hpp"

namespace pfo3::handlers {

registry::registry(std::map<std::string, external_command> external) : external_(std::move(external)) {}

bool registry::knows(const std::string& type) const {
    return external_.count(type) != 0 || detail::find_builtin(type) != nullptr;
}

bool registry::runs_inline(const std::string& type) const {
    return detail::is_instant_builtin(type) && external_.count(type) == 0;
}

outcome registry::run(const task& t, const stop_request* stop) const {
    // A client may ask for less time than the operator allows, never more: the task's limit
    // only shortens an external command's timeout. Built-ins have no operator limit; the task's
    // bounds them as given (sleep never runs past its own maximum of an hour either).
    const std::chrono::milliseconds limit(t.timeout_ms);
    if (auto it = external_.find(t.type); it != external_.end()) {
        if (limit.count() <= 0 || limit >= it->second.timeout) return detail::run_external(it->second, t, stop);
        external_command cmd = it->second;
        cmd.timeout = limit;
        return detail::run_external(cmd, t, stop);
    }
    if (auto fn = detail::find_builtin(t.type)) return fn(t.payload_json, limit);
    outcome o;
    o.status = outcome::kind::permanent;
    o.error = "unknown task type '" + t.type + "'";
    return o;
}

}  // namespace pfo3::handlers
