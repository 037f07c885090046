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

bool is_final(task_status s) noexcept { return s == task_status::done || s == task_status::dead; }

namespace {
// How far along an attempt is: a record of the same attempt only moves up this ladder.
int progress(task_status s) noexcept {
    switch (s) {
    case task_status::pending: return 0;
    case task_status::failed: return 1;
    case task_status::done:
    case task_status::dead: return 2;
    }
    return 0;
}
}  // namespace

bool may_replace(const task_record& stored, const task_record& incoming) noexcept {
    if (incoming.requeues != stored.requeues) return incoming.requeues > stored.requeues;
    if (is_final(stored.status)) return false;
    if (incoming.attempts != stored.attempts) return incoming.attempts > stored.attempts;
    return progress(incoming.status) >= progress(stored.status);
}

std::optional<task_status> parse_task_status(std::string_view s) noexcept {
    for (auto st : {task_status::pending, task_status::done, task_status::failed, task_status::dead})
        if (to_string(st) == s) return st;
    return std::nullopt;
}

}  // namespace pfo3
