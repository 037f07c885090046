#include "pfo3/worker/engine.hpp"

#include <future>

#include "handler_pool.hpp"
#include "result_committer.hpp"
#include "task_processor.hpp"

namespace pfo3::worker {

struct engine::parts {
    parts(engine_options o, const handlers::registry& registry, store::result_store& store, message_sink& sink)
        : opts(std::move(o)),
          processor({registry, store, &committer, sink, opts, give_up}),
          committer(store, opts.max_group,
                    [this](task_record r, delivery_guard g, const std::string& why) {
                        processor.store_refused(std::move(r), std::move(g), why);
                    },
                    opts.metrics),
          pool(opts.concurrency, [this](delivery_guard g) { processor.process(std::move(g)); }) {}

    engine_options opts;
    std::atomic<bool> give_up{false};
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

void engine::submit(delivery_guard d) { parts_->pool.push(std::move(d)); }

void engine::close_intake() { parts_->pool.close(); }

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
