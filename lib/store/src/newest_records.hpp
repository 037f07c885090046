#pragma once
// One record per id out of a write() group, so that no store writes an id twice in one group.
#include <span>
#include <string>
#include <vector>

#include "pfo3/core/task.hpp"

namespace pfo3::store {

/// The record of each id that would be left if the group were written one record after the
/// other, in its order, where nothing is stored yet: a record replaces an earlier one of its id
/// only when may_replace() allows (a retry's `done` is kept over its attempt's late `failed`).
/// Sorted by id, so that writers that lock rows lock them in one order. Pointers into `group`.
std::vector<const task_record*> newest_per_id(std::span<const task_record> group);

/// Where a record stands, for the log line of a record kept over another: "failed, attempt 2".
std::string standing(const task_record& r);

}  // namespace pfo3::store
