#include "pfo3/worker/delivery_guard.hpp"

#include <utility>

namespace pfo3::worker {

delivery_guard::~delivery_guard() { nack(true); }

delivery_guard::delivery_guard(delivery_guard&& other) noexcept
    : d_(std::move(other.d_)), settler_(std::exchange(other.settler_, nullptr)) {}

delivery_guard& delivery_guard::operator=(delivery_guard&& other) noexcept {
    if (this != &other) {
        nack(true);  // the delivery this guard held must not be forgotten
        d_ = std::move(other.d_);
        settler_ = std::exchange(other.settler_, nullptr);
    }
    return *this;
}

void delivery_guard::ack() noexcept {
    if (auto* s = std::exchange(settler_, nullptr)) s->ack(d_.generation, d_.tag);
}

void delivery_guard::nack(bool requeue) noexcept {
    if (auto* s = std::exchange(settler_, nullptr)) s->nack(d_.generation, d_.tag, requeue);
}

}  // namespace pfo3::worker
