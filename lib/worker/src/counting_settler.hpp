#pragma once
// A settler that counts every settled delivery (acks and nacks alike) into the worker's
// metrics before passing it on.
#include <cstdint>

#include "pfo3/metrics/work_metrics.hpp"
#include "pfo3/worker/delivery_guard.hpp"

namespace pfo3::worker {

class counting_settler final : public settler {
public:
    counting_settler(settler& next, metrics::work_metrics& m) noexcept : next_(next), m_(m) {}
    void ack(std::uint64_t generation, std::uint64_t tag) override {
        m_.settled();
        next_.ack(generation, tag);
    }
    void nack(std::uint64_t generation, std::uint64_t tag, bool requeue) override {
        m_.settled();
        next_.nack(generation, tag, requeue);
    }

private:
    settler& next_;
    metrics::work_metrics& m_;
};

}  // namespace pfo3::worker
