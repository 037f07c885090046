#include "result_committer.hpp"

#include "pfo3/core/backoff.hpp"
#include "pfo3/core/log.hpp"

namespace pfo3::app {

result_committer::result_committer(store::result_store& store, std::size_t max_group, resolve ack,
                                   resolve requeue)
    : store_(store), max_group_(max_group), ack_(std::move(ack)), requeue_(std::move(requeue)) {
    thread_ = std::thread([this] { loop(); });
}

result_committer::~result_committer() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    give_up();
    wake_.notify_all();
    thread_.join();
}

void result_committer::commit(task_record record, queue::delivery delivery) {
    {
        std::lock_guard lock(mutex_);
        records_.push_back(std::move(record));
        deliveries_.push_back(std::move(delivery));
    }
    wake_.notify_one();
}

bool result_committer::drain(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return drained_.wait_for(lock, timeout, [this] { return records_.empty() && in_flight_ == 0; });
}

void result_committer::give_up() {
    give_up_ = true;
    wake_.notify_all();
}

void result_committer::loop() {
    std::vector<task_record> records;
    std::vector<queue::delivery> deliveries;
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait(lock, [this] { return stop_ || !records_.empty(); });
        if (records_.empty()) return;  // stopping with nothing left
        // Take at most max_group_; the rest waits for the next round.
        std::size_t n = std::min(records_.size(), max_group_);
        records.assign(std::make_move_iterator(records_.begin()), std::make_move_iterator(records_.begin() + static_cast<std::ptrdiff_t>(n)));
        deliveries.assign(std::make_move_iterator(deliveries_.begin()), std::make_move_iterator(deliveries_.begin() + static_cast<std::ptrdiff_t>(n)));
        records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(n));
        deliveries_.erase(deliveries_.begin(), deliveries_.begin() + static_cast<std::ptrdiff_t>(n));
        in_flight_ = n;
        lock.unlock();

        bool durable = write_group(records);
        for (const auto& d : deliveries) (durable ? ack_ : requeue_)(d);
        if (durable) PFO3_LOG(debug, "group stored and acked", {{"tasks", std::to_string(n)}});

        lock.lock();
        in_flight_ = 0;
        if (records_.empty()) drained_.notify_all();
    }
}

bool result_committer::write_group(const std::vector<task_record>& records) {
    backoff wait({std::chrono::milliseconds(200), 2.0, std::chrono::seconds(10), 0.2});
    while (true) {
        try {
            store_.write(records);
            if (store_down_) {
                store_down_ = false;
                PFO3_LOG(info, "result store is back; stored tasks are acked again", {{"store", store_.describe()}});
            }
            return true;
        } catch (const std::exception& e) {
            // One line per outage, not one per task or per retry.
            if (!store_down_) {
                store_down_ = true;
                PFO3_LOG(error, "result store write failed; tasks stay unacked and the write is retried",
                         {{"store", store_.describe()}, {"tasks", std::to_string(records.size())}, {"error", e.what()}});
            }
        }
        auto until = std::chrono::steady_clock::now() + wait.next();
        std::unique_lock lock(mutex_);
        if (wake_.wait_until(lock, until, [this] { return give_up_.load(); })) return false;
    }
}

}  // namespace pfo3::app
