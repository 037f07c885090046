// Crash loops on quorum queues (decision 0013): the broker counts the deliveries of a message
// that ended unsettled (x-delivery-count), so a redelivered task is run again in place, each
// earlier delivery counted as an attempt, until it has killed delivery_limit - 1 workers;
// then it is stored dead and dead-lettered without running. The broker's own x-delivery-limit
// (the same number) is the backstop should a worker die even before getting here.
#include <algorithm>

#include "pfo3/core/log.hpp"
#include "task_processor.hpp"

namespace pfo3::worker {

void task_processor::redelivered_counted(delivery_guard g, const task& t, int max_attempts, std::string started) {
    const std::int64_t earlier = g.delivery().delivery_count;
    const int limit = d_.opts.topo.delivery_limit;
    task again = t;
    again.attempt = static_cast<int>(std::min<std::int64_t>(t.attempt + earlier, 1000000));
    std::string error;
    if (earlier >= limit - 1)
        error = "delivered " + std::to_string(earlier + 1) + " times and never settled: it killed its worker (or its "
                "worker lost the broker) " + std::to_string(earlier) + " times; amqp.delivery_limit is " +
                std::to_string(limit);
    else if (again.attempt > max_attempts)
        error = "attempt " + std::to_string(again.attempt - 1) + " of " + std::to_string(max_attempts) +
                " was interrupted: the worker running it crashed or lost its broker connection";
    if (!error.empty()) {
        task dead = again;
        dead.attempt = again.attempt - 1;  // the attempts made; this delivery runs nothing
        PFO3_LOG(error, "task keeps killing its workers: dead-lettered, not run again",
                 {{"task_id", t.id}, {"type", t.type}, {"deliveries", std::to_string(earlier + 1)},
                  {"delivery_limit", std::to_string(limit)}});
        if (!dead_letter_task(dead, error)) return;
        return d_.committer->commit(dead_record(dead, std::move(error), std::move(started)), std::move(g));
    }
    PFO3_LOG(warn, "redelivered task: its interrupted deliveries count as attempts; running it again",
             {{"task_id", t.id}, {"type", t.type}, {"attempt", std::to_string(again.attempt)},
              {"max_attempts", std::to_string(max_attempts)}, {"delivery_limit", std::to_string(limit)}});
    run(std::move(g), again, std::move(started));
}

}  // namespace pfo3::worker
