#include "upsert_rule.hpp"

#include <stdexcept>

#include "pfo3/core/task.hpp"
#include "pfo3/json/text.hpp"

namespace pfo3::store {

// Written out from may_replace() itself rather than by hand, so the two never differ:
//   WHERE EXCLUDED.requeues > pfo3_tasks.requeues OR (EXCLUDED.requeues = pfo3_tasks.requeues AND
//     (CAST(sign(EXCLUDED.attempts - pfo3_tasks.attempts) AS integer), pfo3_tasks.status, EXCLUDED.status) IN
//       ((1, 'pending', 'pending'), ..., (0, 'failed', 'done'), ..., (-1, 'failed', 'cancelled')))
// i.e. every (how the attempts compare, stored status, new status) may_replace allows; before
// all that, a row of a later requeue replaces any row of an earlier one. A row whose status
// pfo3 does not know is never updated (except by a later requeue). PostgreSQL and SQLite
// (3.35+: sign(), row values in an IN list) read the same text.
const std::string& may_replace_where() {
    static const std::string where = [] {
        auto row = [](task_status s, int attempts) {
            task_record r;
            r.status = s;
            r.attempts = attempts;
            return r;
        };
        auto quoted = [](task_status s) { return "'" + std::string(to_string(s)) + "'"; };
        std::string allowed;
        for (int order : {1, 0, -1})
            for (auto stored : all_task_statuses)
                for (auto incoming : all_task_statuses) {
                    // may_replace depends only on the statuses and on how the attempts compare.
                    const bool yes = may_replace(row(stored, 2), row(incoming, 2 + order));
                    if (yes != may_replace(row(stored, 5), row(incoming, 5 + 2 * order)))
                        throw std::logic_error("may_replace depends on more than the attempts' order: rewrite may_replace_where");
                    if (yes)
                        allowed += (allowed.empty() ? "(" : ", (") + std::to_string(order) + ", " + quoted(stored) +
                                   ", " + quoted(incoming) + ")";
                }
        task_record first = row(task_status::done, 1), requeued = row(task_status::failed, 1);
        requeued.requeues = 1;
        if (!may_replace(first, requeued) || may_replace(requeued, first))
            throw std::logic_error("may_replace no longer puts requeues first: rewrite may_replace_where");
        std::string out = " WHERE EXCLUDED.requeues > pfo3_tasks.requeues OR (EXCLUDED.requeues = pfo3_tasks.requeues AND ";
        out += "(CAST(sign(EXCLUDED.attempts - pfo3_tasks.attempts) AS integer), pfo3_tasks.status, EXCLUDED.status) IN (";
        out += allowed + "))";
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
