#include "result_committer.hpp"

#include <algorithm>

#include "pfo3/core/backoff.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"

namespace pfo3::worker {

result_committer::result_committer(store::result_store& store, std::size_t max_group, rejected_handler on_rejected,
                                   metrics::work_metrics* m)
    : result_committer(store, max_group, std::move(on_rejected), m, linger{}) {}

result_committer::result_committer(store::result_store& store, std::size_t max_group, rejected_handler on_rejected,
                                   metrics::work_metrics* m, linger l)
    : store_(store), max_group_(std::max<std::size_t>(max_group, 1)), on_rejected_(std::move(on_rejected)), metrics_(m),
      linger_(l) {
    linger_.until = std::min(linger_.until, max_group_);
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
        pending_.records.push_back(std::move(record));
        pending_.deliveries.push_back(std::move(delivery));
    }
    wake_.notify_one();
}

void result_committer::commit(std::vector<task_record>& records, std::vector<delivery_guard>& deliveries) {
    if (records.empty()) return;
    {
        std::lock_guard lock(mutex_);
        // Room for both first: the moves below cannot throw, so records and guards stay paired.
        pending_.records.reserve(pending_.records.size() + records.size());
        pending_.deliveries.reserve(pending_.deliveries.size() + deliveries.size());
        pending_.records.insert(pending_.records.end(), std::make_move_iterator(records.begin()),
                                std::make_move_iterator(records.end()));
        pending_.deliveries.insert(pending_.deliveries.end(), std::make_move_iterator(deliveries.begin()),
                                   std::make_move_iterator(deliveries.end()));
    }
    records.clear();
    deliveries.clear();  // moved-from guards: settle nothing
    wake_.notify_one();
}

bool result_committer::drain(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return drained_.wait_for(lock, timeout, [this] { return pending_.records.empty() && in_flight_ == 0; });
}

void result_committer::give_up() {
    {
        std::lock_guard lock(mutex_);
        give_up_ = true;
    }
    wake_.notify_all();
}

void result_committer::loop() {
    group taken;
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait(lock, [this] { return stop_ || !pending_.records.empty(); });
        if (pending_.records.empty()) return;  // stopping with nothing left
        if (give_up_) {
            // Stopping with the store down: nothing more is written, everything goes back.
            group dropped = std::move(pending_);
            pending_.clear();
            lock.unlock();
            dropped.clear();  // the guards nack their deliveries back
            lock.lock();
            drained_.notify_all();
            continue;
        }
        // Busy (the last group was not small) and only a few records here: wait a moment for
        // more, so the next commit, fsync and consumer wake-up serve more tasks.
        if (last_group_ >= linger_.after && pending_.records.size() < linger_.until && !give_up_)
            wake_.wait_for(lock, linger_.wait, [this] { return stop_ || pending_.records.size() >= linger_.until; });
        // Take at most max_group_; the rest waits for the next round.
        const std::size_t n = std::min(pending_.records.size(), max_group_);
        auto take = [n](auto& from, auto& to) {
            const auto end = from.begin() + static_cast<std::ptrdiff_t>(n);
            to.assign(std::make_move_iterator(from.begin()), std::make_move_iterator(end));
            from.erase(from.begin(), end);
        };
        take(pending_.records, taken.records);
        take(pending_.deliveries, taken.deliveries);
        in_flight_ = n;
        last_group_ = n;
        lock.unlock();

        if (write_group(taken)) {
            for (auto& d : taken.deliveries) d.ack();
            if (metrics_) count_stored(taken.records);
            PFO3_LOG(debug, "group stored and acked", {{"tasks", std::to_string(taken.records.size())}});
        }
        taken.clear();  // unsettled guards (given up) nack their deliveries back

        lock.lock();
        in_flight_ = 0;
        if (pending_.records.empty()) drained_.notify_all();
    }
}

void result_committer::count_stored(const std::vector<task_record>& records) const {
    const auto now = std::chrono::system_clock::now();
    for (const auto& r : records) {
        metrics_->finished(r.type, r.status == task_status::done     ? metrics::outcome::done
                                   : r.status == task_status::failed ? metrics::outcome::retry
                                                                     : metrics::outcome::dead);
        if (auto submitted = parse_rfc3339(r.submitted_at))
            metrics_->end_to_end.observe(metrics::seconds_between(*submitted, now));
    }
}

void result_committer::write_singly(group& g) {
    group kept;
    for (std::size_t i = 0; i < g.records.size(); ++i) {
        try {
            store_.write(std::span<const task_record>(&g.records[i], 1));
        } catch (const record_rejected& r) {
            PFO3_LOG(error, "result store refused a record: the task is dead-lettered",
                     {{"task_id", g.records[i].id}, {"store", store_.describe()}, {"error", r.what()}});
            on_rejected_(std::move(g.records[i]), std::move(g.deliveries[i]), r.what());
            continue;
        } catch (...) {
            // A retryable failure midway: what is already written is durable, the rest waits.
            for (std::size_t j = i; j < g.records.size(); ++j) {
                kept.records.push_back(std::move(g.records[j]));
                kept.deliveries.push_back(std::move(g.deliveries[j]));
            }
            g = std::move(kept);
            throw;
        }
        kept.records.push_back(std::move(g.records[i]));
        kept.deliveries.push_back(std::move(g.deliveries[i]));
    }
    g = std::move(kept);
}

bool result_committer::write_group(group& g) {
    backoff wait({std::chrono::milliseconds(200), 2.0, std::chrono::seconds(10), 0.2});
    while (true) {
        try {
            try {
                const auto started = std::chrono::steady_clock::now();
                store_.write(g.records);
                if (metrics_)
                    metrics_->store_write.observe(
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
            } catch (const record_rejected&) {
                write_singly(g);
            }
            if (store_down_) {
                store_down_ = false;
                PFO3_LOG(info, "result store is back; stored tasks are acked again", {{"store", store_.describe()}});
            }
            return true;
        } catch (const std::exception& e) {
            if (metrics_) metrics_->store_errors.inc();
            // One line per outage, not one per task or per retry.
            if (!store_down_) {
                store_down_ = true;
                PFO3_LOG(error, "result store write failed; tasks stay unacked and the write is retried",
                         {{"store", store_.describe()}, {"tasks", std::to_string(g.records.size())}, {"error", e.what()}});
            }
        }
        auto until = std::chrono::steady_clock::now() + wait.next();
        std::unique_lock lock(mutex_);
        if (wake_.wait_until(lock, until, [this] { return give_up_.load(); })) return false;
    }
}

}  // namespace pfo3::worker
