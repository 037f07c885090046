#include "pfo3/worker/engine.hpp"

#include <future>
#include <mutex>
#include <vector>

#include "pfo3/core/log.hpp"

#include "handler_pool.hpp"
#include "result_committer.hpp"
#include "task_processor.hpp"

namespace pfo3::worker {

namespace {

// Deliveries collected before one hand-over at most: big enough that the hand-over costs little
// per task, small enough that the committer starts writing while the consumer still decodes.
constexpr std::size_t max_batch = 128;

}  // namespace

struct engine::parts {
    parts(engine_options o, const handlers::registry& registry, store::result_store& store, message_sink& sink)
        : opts(std::move(o)),
          processor({registry, store, &committer, sink, opts, give_up, opts.cancels}),
          committer(store, opts.max_group,
                    [this](task_record r, delivery_guard g, const std::string& why) {
                        processor.store_refused(std::move(r), std::move(g), why);
                    },
                    opts.metrics),
          pool(opts.concurrency, [this](delivery_guard g) { processor.process(std::move(g)); }) {
        // A batch never outgrows this room (collect() flushes at max_batch), so adding a record
        // and its guard side by side cannot fail between the two.
        batch.records.reserve(max_batch);
        batch.stored.reserve(max_batch);
        batch.handlers.reserve(max_batch);
    }

    // What collect() gathered since the last flush(); touched by the collecting thread only.
    struct held {
        std::vector<task_record> records;       // run inline, for the committer
        std::vector<delivery_guard> stored;     // their guards, side by side
        std::vector<delivery_guard> handlers;   // for the handler threads
        std::size_t size() const { return records.size() + handlers.size(); }
    };

    engine_options opts;
    std::atomic<bool> give_up{false};
    // flush() hands over under it and close_intake() closes under it, so a batch is either
    // in the committer before finish() waits for it, or dropped (nacked back).
    std::mutex intake_mutex;
    bool intake_closed = false;
    held batch;
    task_processor processor;  // uses committer only once deliveries flow, after it is built
    result_committer committer;
    handler_pool pool;  // last: its threads stop first
};

engine::engine(engine_options opts, const handlers::registry& registry, store::result_store& store, message_sink& sink)
    : parts_(std::make_unique<parts>(std::move(opts), registry, store, sink)) {}

engine::~engine() {
    parts_->pool.close();
    parts_->give_up = true;
    parts_->committer.give_up();
}

void engine::submit(delivery_guard d) {
    {
        std::lock_guard lock(parts_->intake_mutex);
        if (!parts_->intake_closed) return parts_->pool.push(std::move(d));
    }
    // A delivery already on its way when the consumer was cancelled: back as a fresh copy.
    parts_->processor.hand_back(std::move(d));
}

void engine::collect(delivery_guard d) {
    auto& b = parts_->batch;
    std::optional<task_record> done;
    try {
        done = parts_->processor.run_inline(d.delivery());
    } catch (const std::exception& e) {
        // Resource exhaustion only: a handler thread tries again.
        PFO3_LOG(warn, "could not run a built-in on the consumer thread; a handler thread takes it",
                 {{"error", e.what()}});
    }
    if (done) {
        b.records.push_back(std::move(*done));
        b.stored.push_back(std::move(d));
    } else {
        b.handlers.push_back(std::move(d));
    }
    if (b.size() >= max_batch) flush();
}

void engine::flush() noexcept {
    auto& b = parts_->batch;
    if (b.size() == 0) return;
    try {
        std::lock_guard lock(parts_->intake_mutex);
        if (!parts_->intake_closed) {
            parts_->pool.push(b.handlers);
            parts_->committer.commit(b.records, b.stored);
            return;
        }
    } catch (const std::exception& e) {
        PFO3_LOG(error, "could not hand deliveries over; they go back to the queue", {{"error", e.what()}});
    }
    // Intake closed (a clean shutdown): back as fresh copies, as close_intake() does, even the
    // built-ins already run here (their records were never stored; a rerun is harmless).
    b.records.clear();
    for (auto& d : b.stored) parts_->processor.hand_back(std::move(d));
    for (auto& d : b.handlers) parts_->processor.hand_back(std::move(d));
    b.stored.clear();
    b.handlers.clear();
}

void engine::close_intake() {
    {
        std::lock_guard lock(parts_->intake_mutex);
        parts_->intake_closed = true;
    }
    // Never started: handed back as fresh copies, so a clean shutdown costs no task an attempt.
    for (auto& d : parts_->pool.close()) parts_->processor.hand_back(std::move(d));
}

bool engine::finish(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left = [&] {
        return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()),
                        std::chrono::milliseconds(0));
    };
    // Handlers first: what they produce must then still become durable.
    return parts_->pool.wait_idle(left()) && parts_->committer.drain(left());
}

void engine::abandon() {
    parts_->give_up = true;
    parts_->committer.give_up();
    parts_->pool.abandon();
}

queue::publish_outcome publisher_sink::publish(const queue::outgoing_message& msg) {
    auto promise = std::make_shared<std::promise<queue::publish_outcome>>();
    auto result = promise->get_future();
    p_.publish(msg, [promise](queue::publish_outcome o) { promise->set_value(o); });
    return result.get();
}

}  // namespace pfo3::worker
