#include "pfo3/core/task.hpp"

namespace pfo3 {

std::string_view to_string(task_status s) noexcept {
    switch (s) {
    case task_status::pending: return "pending";
    case task_status::done: return "done";
    case task_status::failed: return "failed";
    case task_status::dead: return "dead";
    }
    return "pending";
}

std::optional<task_status> parse_task_status(std::string_view s) noexcept {
    for (auto st : {task_status::pending, task_status::done, task_status::failed, task_status::dead})
        if (to_string(st) == s) return st;
    return std::nullopt;
}

}  // namespace pfo3
