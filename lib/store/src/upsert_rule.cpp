#include "upsert_rule.hpp"

#include <stdexcept>

#include "pfo3/core/task.hpp"
#include "pfo3/json/text.hpp"

namespace pfo3::store {

// Written out from may_replace() itself rather than by hand:
//   WHERE EXCLUDED.requeues > pfo3_tasks.requeues OR (EXCLUDED.requeues = pfo3_tasks.requeues AND (
//     (EXCLUDED.attempts > pfo3_tasks.attempts AND pfo3_tasks.status IN ('pending', 'failed'))
//      OR (EXCLUDED.attempts = pfo3_tasks.attempts AND (pfo3_tasks.status, EXCLUDED.status) IN
//          (('pending', 'pending'), ..., ('failed', 'done'), ('failed', 'failed'), ('failed', 'dead')))))
// i.e. never over a final row; a later attempt, or the same one at least as far along; and
// before all that, a row of a later requeue replaces any row of an earlier one. A row whose
// status pfo3 does not know is never updated (except by a later requeue).
const std::string& may_replace_where() {
    static const std::string where = [] {
        constexpr task_status all[] = {task_status::pending, task_status::done, task_status::failed,
                                       task_status::dead};
        auto row = [](task_status s, int attempts) {
            task_record r;
            r.status = s;
            r.attempts = attempts;
            return r;
        };
        auto quoted = [](task_status s) { return "'" + std::string(to_string(s)) + "'"; };
        std::string later, same;
        for (auto stored : all) {
            // may_replace depends only on the statuses and on how the attempts compare.
            if (may_replace(row(stored, 1), row(task_status::failed, 2)))
                later += (later.empty() ? "" : ", ") + quoted(stored);
            for (auto incoming : all)
                if (may_replace(row(stored, 1), row(incoming, 1)))
                    same += (same.empty() ? "(" : ", (") + quoted(stored) + ", " + quoted(incoming) + ")";
        }
        task_record first = row(task_status::done, 1), requeued = row(task_status::failed, 1);
        requeued.requeues = 1;
        if (!may_replace(first, requeued) || may_replace(requeued, first))
            throw std::logic_error("may_replace no longer puts requeues first: rewrite may_replace_where");
        std::string out = " WHERE EXCLUDED.requeues > pfo3_tasks.requeues OR (EXCLUDED.requeues = pfo3_tasks.requeues AND (";
        out += "(EXCLUDED.attempts > pfo3_tasks.attempts AND pfo3_tasks.status IN (" + later + "))";
        out += " OR (EXCLUDED.attempts = pfo3_tasks.attempts AND (pfo3_tasks.status, EXCLUDED.status) IN (" + same + "))))";
        return out;
    }();
    return where;
}

bool is_storable_text(std::string_view s) noexcept {
    return s.find('\0') == std::string_view::npos && json::is_valid_utf8(s);
}

std::string storable_text(std::string_view s) {
    std::string fixed = json::valid_utf8(s);
    std::string out;
    out.reserve(fixed.size());
    for (char ch : fixed) {
        if (ch == '\0') out += "\xEF\xBF\xBD";
        else out += ch;
    }
    return out;
}

}  // namespace pfo3::store
