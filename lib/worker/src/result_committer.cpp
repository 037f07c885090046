#include "result_committer.hpp"

#include "pfo3/core/backoff.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"

namespace pfo3::worker {

result_committer::result_committer(store::result_store& store, std::size_t max_group, rejected_handler on_rejected)
    : store_(store), max_group_(std::max<std::size_t>(max_group, 1)), on_rejected_(std::move(on_rejected)) {
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
    // Anything still pending is dropped with its guards: nacked back to the queue.
}

void result_committer::commit(task_record record, delivery_guard delivery) {
    {
        std::lock_guard lock(mutex_);
        pending_.push_back({std::move(record), std::move(delivery)});
    }
    wake_.notify_one();
}

bool result_committer::drain(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return drained_.wait_for(lock, timeout, [this] { return pending_.empty() && in_flight_ == 0; });
}

void result_committer::give_up() {
    {
        std::lock_guard lock(mutex_);
        give_up_ = true;
    }
    wake_.notify_all();
}

void result_committer::loop() {
    std::vector<entry> group;
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait(lock, [this] { return stop_ || !pending_.empty(); });
        if (pending_.empty()) return;  // stopping with nothing left
        if (give_up_) {
            // Stopping with the store down: nothing more is written, everything goes back.
            std::vector<entry> dropped = std::move(pending_);
            pending_.clear();
            lock.unlock();
            dropped.clear();
            lock.lock();
            drained_.notify_all();
            continue;
        }
        // Take at most max_group_; the rest waits for the next round.
        std::size_t n = std::min(pending_.size(), max_group_);
        group.assign(std::make_move_iterator(pending_.begin()),
                     std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(n)));
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
        in_flight_ = n;
        lock.unlock();

        if (write_group(group)) {
            for (auto& e : group) e.delivery.ack();
            PFO3_LOG(debug, "group stored and acked", {{"tasks", std::to_string(group.size())}});
        }
        group.clear();  // unsettled guards (given up) nack their deliveries back

        lock.lock();
        in_flight_ = 0;
        if (pending_.empty()) drained_.notify_all();
    }
}

void result_committer::write_once(const std::vector<entry>& group) {
    scratch_.clear();
    for (const auto& e : group) scratch_.push_back(e.record);
    store_.write(scratch_);
}

void result_committer::write_singly(std::vector<entry>& group) {
    std::vector<entry> kept;
    for (auto& e : group) {
        try {
            store_.write(std::span<const task_record>(&e.record, 1));
            kept.push_back(std::move(e));
        } catch (const record_rejected& r) {
            PFO3_LOG(error, "result store refused a record: the task is dead-lettered",
                     {{"task_id", e.record.id}, {"store", store_.describe()}, {"error", r.what()}});
            on_rejected_(std::move(e.record), std::move(e.delivery), r.what());
        } catch (...) {
            // A retryable failure midway: what is already written is durable, the rest waits.
            for (auto* it = &e; it != group.data() + group.size(); ++it) kept.push_back(std::move(*it));
            group = std::move(kept);
            throw;
        }
    }
    group = std::move(kept);
}

bool result_committer::write_group(std::vector<entry>& group) {
    backoff wait({std::chrono::milliseconds(200), 2.0, std::chrono::seconds(10), 0.2});
    while (true) {
        try {
            try {
                write_once(group);
            } catch (const record_rejected&) {
                write_singly(group);
            }
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
                         {{"store", store_.describe()}, {"tasks", std::to_string(group.size())}, {"error", e.what()}});
            }
        }
        auto until = std::chrono::steady_clock::now() + wait.next();
        std::unique_lock lock(mutex_);
        if (wake_.wait_until(lock, until, [this] { return give_up_.load(); })) return false;
    }
}

}  // namespace pfo3::worker
