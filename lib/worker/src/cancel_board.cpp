#include "pfo3/worker/cancel_board.hpp"

namespace pfo3::worker {

cancel_board::cancel_board(std::size_t max_pending, std::chrono::milliseconds grace)
    : max_pending_(std::max<std::size_t>(max_pending, 1)), grace_(grace) {}

void cancel_board::cancel(const std::string& id, const std::string& why) {
    std::lock_guard lk(mu_);
    auto [it, added] = pending_.try_emplace(id, entry{next_seq_, why});
    if (added) {
        order_.emplace(next_seq_++, id);
        if (pending_.size() > max_pending_) {
            // The oldest first: a cancel nobody settled for longest is the likeliest to be one
            // another worker settled (every worker hears every cancel).
            pending_.erase(order_.begin()->second);
            order_.erase(order_.begin());
        }
        count_.store(pending_.size(), std::memory_order_relaxed);
    }
    auto [from, to] = running_.equal_range(id);
    for (auto r = from; r != to; ++r) r->second->request(why);
}

bool cancel_board::pending(std::string_view id) const {
    if (count_.load(std::memory_order_relaxed) == 0) return false;
    std::lock_guard lk(mu_);
    return pending_.find(std::string(id)) != pending_.end();
}

void cancel_board::forget(std::string_view id) {
    std::lock_guard lk(mu_);
    forget_locked(id);
}

void cancel_board::forget_locked(std::string_view id) {
    auto it = pending_.find(std::string(id));
    if (it == pending_.end()) return;
    order_.erase(it->second.seq);
    pending_.erase(it);
    count_.store(pending_.size(), std::memory_order_relaxed);
}

cancel_board::run_ticket::run_ticket(cancel_board& board, std::string id)
    : board_(board), id_(std::move(id)), stop_(std::make_shared<handlers::stop_request>(board.grace_)) {
    std::lock_guard lk(board_.mu_);
    // A cancel heard between the caller's check and now stops the run at once.
    if (auto it = board_.pending_.find(id_); it != board_.pending_.end()) stop_->request(it->second.why);
    board_.running_.emplace(id_, stop_);
}

cancel_board::run_ticket::~run_ticket() {
    std::lock_guard lk(board_.mu_);
    auto [from, to] = board_.running_.equal_range(id_);
    for (auto r = from; r != to; ++r)
        if (r->second == stop_) {
            board_.running_.erase(r);
            break;
        }
    if (stop_->requested()) board_.forget_locked(id_);
}

}  // namespace pfo3::worker
