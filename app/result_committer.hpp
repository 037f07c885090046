#pragma once
// Group commit for a worker: handler threads hand over finished records; one committer thread
// writes whatever has accumulated as one group (one fsync barrier, one transaction) and only
// then acks those deliveries. Under load groups grow by themselves (records pile up while a
// write is in progress), at low load a record is written at once: no timer adds latency.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "pfo3/core/task.hpp"
#include "pfo3/queue/consumer.hpp"
#include "pfo3/store/result_store.hpp"

namespace pfo3::app {

/// See the file comment. Thread-safe front (commit, drain); one private thread.
class result_committer {
public:
    using resolve = std::function<void(const queue::delivery&)>;

    /// `ack` runs after the record of a delivery is durable; `requeue` for deliveries given
    /// up at shutdown while the store was down. Both run on the committer thread.
    result_committer(store::result_store& store, std::size_t max_group, resolve ack, resolve requeue);
    /// Gives up what is not written (see give_up()) and joins the thread.
    ~result_committer();
    result_committer(const result_committer&) = delete;
    result_committer& operator=(const result_committer&) = delete;

    /// Queues a record; its delivery is acked once the record is durable.
    void commit(task_record record, queue::delivery delivery);
    /// Waits until everything queued so far is durable and acked; false on timeout.
    bool drain(std::chrono::milliseconds timeout);
    /// Stops retrying a store that is down: what is not written is requeued, never acked.
    void give_up();

private:
    void loop();
    bool write_group(const std::vector<task_record>& records);

    store::result_store& store_;
    std::size_t max_group_;
    resolve ack_;
    resolve requeue_;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable drained_;
    std::vector<task_record> records_;
    std::vector<queue::delivery> deliveries_;
    std::size_t in_flight_ = 0;  // taken by the thread, not yet resolved
    bool stop_ = false;
    std::atomic<bool> give_up_{false};
    bool store_down_ = false;
    std::thread thread_;
};

}  // namespace pfo3::app
