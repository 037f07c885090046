#include "handler_pool.hpp"

namespace pfo3::worker {

handler_pool::handler_pool(int threads, job run) : run_(std::move(run)) {
    threads_.reserve(static_cast<std::size_t>(threads));
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
}

handler_pool::~handler_pool() {
    close();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

void handler_pool::push(delivery_guard d) {
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;  // d goes out of scope: nack + requeue
        queue_.push_back(std::move(d));
    }
    wake_.notify_one();
}

void handler_pool::push(std::vector<delivery_guard>& ds) {
    if (ds.empty()) return;
    int wake = 0;
    {
        std::lock_guard lock(mutex_);
        if (!closed_) {
            for (auto& d : ds) queue_.push_back(std::move(d));
            wake = std::min(idle_threads_, static_cast<int>(ds.size()));
        }
    }
    ds.clear();  // moved from, or (closed) dropped here: nack + requeue
    if (wake == static_cast<int>(threads_.size())) wake_.notify_all();
    else
        for (int i = 0; i < wake; ++i) wake_.notify_one();
}

std::deque<delivery_guard> handler_pool::close() {
    std::deque<delivery_guard> unstarted;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        unstarted.swap(queue_);
        if (running_ == 0) idle_.notify_all();
    }
    wake_.notify_all();
    // Outside the lock: the caller hands them back (or drops them, which nacks them back).
    return unstarted;
}

bool handler_pool::wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, timeout, [this] { return running_ == 0 && queue_.empty(); });
}

void handler_pool::abandon() {
    for (auto& t : threads_)
        if (t.joinable()) t.detach();
}

void handler_pool::loop() {
    std::unique_lock lock(mutex_);
    while (true) {
        ++idle_threads_;
        wake_.wait(lock, [this] { return closed_ || !queue_.empty(); });
        --idle_threads_;
        if (queue_.empty()) return;  // closed and drained
        auto d = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
        lock.unlock();
        run_(std::move(d));
        lock.lock();
        --running_;
        if (running_ == 0 && queue_.empty()) idle_.notify_all();
    }
}

}  // namespace pfo3::worker
