#include "work_sight.hpp"

#include "pfo3/core/log.hpp"
#include "store_access.hpp"

namespace pfo3::app {

namespace {

// A valid id no task uses: reading it asks the store a real question (a round trip, a query,
// a GET) whose answer is "none".
constexpr std::string_view probe_id = "pfo3-readiness-probe";

}  // namespace

work_sight::work_sight(const config::settings& s)
    : settings_(s),
      view_(io_, "work"),
      metrics_(view_.registry(), s.http.type_label_limit),
      check_(std::make_shared<store_check>()) {
    check_->settings = s;
    metrics_.concurrency.set(s.work.concurrency);
    metrics_.prefetch.set(s.work.prefetch);
    view_.watch_broker("consume", consumer_stats_, false);
    view_.watch_broker("republish", republish_stats_, true);
    view_.add_check("broker", [this]() -> std::optional<std::string> {
        if (view_.stopping()) return "stopping: no new deliveries";
        if (!consumer_stats_.up.load()) return "not connected to the broker";
        if (!consuming_.load()) return "connected but not consuming";
        return std::nullopt;
    });
    view_.add_check("store", [this] { return store_problem(); });
}

work_sight::~work_sight() { stop(); }

void work_sight::start() {
    view_.start(http_listen_of(settings_.http.listen, "off"));
    loop_ = std::thread([this] {
        try {
            io_.run();
        } catch (const std::exception& e) {
            PFO3_LOG(error, "the operations loop stopped", {{"error", e.what()}});
        }
    });
    store_check_ = std::thread([c = check_] { store_check_loop(c); });
}

void work_sight::stop() {
    if (stopped_) return;
    stopped_ = true;
    {
        std::lock_guard lk(check_->mu);
        check_->stop = true;
    }
    check_->wake.notify_all();
    view_.stop();
    if (loop_.joinable()) loop_.join();
    // A check stuck on a hung store is not waited for: it owns its state and its own handle.
    if (store_check_.joinable()) store_check_.detach();
}

std::optional<std::string> work_sight::store_problem() const {
    std::lock_guard lk(check_->mu);
    if (check_->error) return "result store: " + *check_->error;
    // A read that hangs never reports: a check older than a few periods means no answer.
    const auto age = std::chrono::steady_clock::now() - check_->checked;
    if (age > 3 * std::chrono::seconds(settings_.http.store_check_s) + std::chrono::seconds(5))
        return "result store: no answer to the readiness read for " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) + " s";
    return std::nullopt;
}

void work_sight::store_check_loop(const std::shared_ptr<store_check>& c) {
    std::unique_ptr<store::result_store> store;
    const auto period = std::chrono::seconds(c->settings.http.store_check_s);
    for (;;) {
        std::optional<std::string> problem;
        try {
            if (!store) store = open_configured_store(c->settings);
            (void)store->read(probe_id);
        } catch (const std::exception& e) {
            problem = e.what();
            store.reset();  // a new handle next time: the old one may be broken
        }
        std::unique_lock lk(c->mu);
        if (problem && !c->error) PFO3_LOG(warn, "readiness: the result store does not answer", {{"error", *problem}});
        if (!problem && c->error && c->error != "not checked yet")
            PFO3_LOG(info, "readiness: the result store answers again");
        c->error = std::move(problem);
        c->checked = std::chrono::steady_clock::now();
        if (c->wake.wait_for(lk, period, [&c] { return c->stop; })) return;
    }
}

}  // namespace pfo3::app
