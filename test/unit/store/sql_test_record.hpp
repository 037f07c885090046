#pragma once
// The record the SQL stores' tests write: every field set, the ones a test varies as arguments.
#include <string>

#include "pfo3/core/task.hpp"

namespace pfo3::test {

inline task_record record(std::string id, std::string result = "42", task_status status = task_status::done,
                          int attempts = 1) {
    task_record r;
    r.id = std::move(id);
    r.type = "echo";
    r.payload_json = R"({"n":1,"s":"x"})";
    r.status = status;
    r.result_json = std::move(result);
    r.attempts = attempts;
    r.worker = "host:1";
    r.submitted_at = "2026-11-28T02:18:54.123Z";
    r.started_at = "2026-11-28T02:18:55.000Z";
    r.finished_at = "2026-11-28T02:18:55.456Z";
    return r;
}

}  // namespace pfo3::test
