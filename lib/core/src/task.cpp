#include "pfo3/core/task.hpp"

namespace pfo3 {

std::string_view to_string(task_status s) noexcept {
    switch (s) {
    case task_status::pending: return "pending";
    case task_status::done: return "done";
    case task_status::failed: return "failed";
    case task_status::dead: return "dead";
    case task_status::scheduled: return "scheduled";
    case task_status::cancel_requested: return "cancel_requested";
    case task_status::cancelled: return "cancelled";
    }
    return "pending";
}

bool is_final(task_status s) noexcept {
    return s == task_status::done || s == task_status::dead || s == task_status::cancelled;
}

namespace {
// How far along an attempt is: a record of the same attempt only moves up this ladder.
int progress(task_status s) noexcept {
    switch (s) {
    case task_status::pending:
    case task_status::scheduled: return 0;
    case task_status::failed: return 1;
    case task_status::cancel_requested: return 2;
    case task_status::done:
    case task_status::dead:
    case task_status::cancelled: return 3;
    }
    return 0;
}
}  // namespace

bool may_replace(const task_record& stored, const task_record& incoming) noexcept {
    if (incoming.requeues != stored.requeues) return incoming.requeues > stored.requeues;
    if (is_final(stored.status)) return false;
    const bool cancel = incoming.status == task_status::cancel_requested || incoming.status == task_status::cancelled;
    if (stored.status == task_status::cancel_requested)
        return is_final(incoming.status) || incoming.status == task_status::cancel_requested;
    if (cancel) return true;
    if (incoming.attempts != stored.attempts) return incoming.attempts > stored.attempts;
    return progress(incoming.status) >= progress(stored.status);
}

std::optional<task_status> parse_task_status(std::string_view s) noexcept {
    for (auto st : all_task_statuses)
        if (to_string(st) == s) return st;
    return std::nullopt;
}

}  // namespace pfo3
