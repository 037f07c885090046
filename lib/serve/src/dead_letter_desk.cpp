#include "pfo3/serve/dead_letter_desk.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/serve/dead_letter_replies.hpp"

namespace pfo3::serve {

namespace {

// How long serve's exit waits for a request that is inside a broker call (each call is
// bounded by the RPC or confirm timeout, a requeue by its limit of letters).
constexpr auto exit_wait = std::chrono::seconds(2);

struct job {
    json::request req;
    net::dispatcher::reply done;
};

queue::dead_selection selection_of(const json::request& r) { return queue::dead_selection{r.all, r.ids}; }

}  // namespace

struct dead_letter_desk::shared {
    opener open;
    std::size_t max_waiting;
    dead_reply_bounds bounds;
    std::mutex mu;
    std::condition_variable cv;      // a job or the stop
    std::condition_variable exited;  // the thread returned
    std::deque<job> waiting;         // guarded by mu
    bool stopping = false;           // guarded by mu
    bool running = true;             // guarded by mu
    net::dispatcher::reply in_flight;  // guarded by mu; dropped at exit so a stuck call answers nobody

    // Only the desk's thread touches these.
    std::unique_ptr<queue::dead_letters> letters;
    std::size_t failed_opens = 0;

    std::string answer(const json::request& r) {
        if (!letters) {
            letters = open(failed_opens);
            failed_opens = 0;
        }
        auto& d = *letters;
        switch (r.kind) {
        case json::op::dead_list: {
            queue::dead_list_bounds b{r.limit, bounds.body_bytes, bounds.total_bytes};
            return encode_dead_listing(d.dead_queue(), d.list(b));
        }
        case json::op::dead_requeue: {
            auto rep = d.requeue(selection_of(r), r.limit);
            const bool more = rep.trouble.empty() && rep.moved.size() >= r.limit;
            std::string line = encode_requeue_report(d.task_queue(), rep, more);
            if (!rep.trouble.empty()) {
                PFO3_LOG(warn, "dead-letter requeue stopped", {{"error", rep.trouble}});
                letters.reset();  // the next request starts on new connections
            }
            if (!rep.moved.empty())
                PFO3_LOG(info, "dead letters requeued", {{"count", std::to_string(rep.moved.size())},
                                                         {"left", std::to_string(rep.left)}});
            return line;
        }
        case json::op::dead_purge: {
            auto rep = d.purge(selection_of(r));
            PFO3_LOG(warn, "dead letters purged", {{"count", std::to_string(rep.purged)}, {"queue", d.dead_queue()}});
            return encode_purge_report(d.dead_queue(), rep);
        }
        default: break;
        }
        return json::encode_rejected(request_error::bad_request, "not a dead-letter op");
    }

    std::string answer_safely(const json::request& r) {
        try {
            return answer(r);
        } catch (const service_error& e) {
            // The next request opens new connections (the next URL of the list).
            letters.reset();
            ++failed_opens;
            PFO3_LOG(warn, "dead-letter request failed: broker unavailable", {{"error", e.what()}});
            return json::encode_rejected(request_error::unavailable,
                                         "the broker cannot be reached for dead letters; nothing more was changed");
        } catch (const std::exception& e) {
            letters.reset();
            PFO3_LOG(error, "dead-letter request failed", {{"error", e.what()}});
            return json::encode_rejected(request_error::unavailable, "internal error handling dead letters");
        }
    }

    void run() {
        std::unique_lock lock(mu);
        while (true) {
            cv.wait(lock, [&] { return stopping || !waiting.empty(); });
            if (stopping) break;
            job j = std::move(waiting.front());
            waiting.pop_front();
            in_flight = std::move(j.done);
            lock.unlock();
            std::string line = answer_safely(j.req);
            lock.lock();
            if (in_flight) {
                auto done = std::move(in_flight);
                in_flight = nullptr;
                lock.unlock();
                done(std::move(line));
                lock.lock();
            }
        }
        letters.reset();
        running = false;
        exited.notify_all();
    }
};

dead_letter_desk::dead_letter_desk(opener open, std::size_t max_waiting, dead_reply_bounds bounds)
    : shared_(std::make_shared<shared>()) {
    shared_->open = std::move(open);
    shared_->max_waiting = max_waiting == 0 ? 1 : max_waiting;
    shared_->bounds = bounds;
    std::thread([s = shared_] { s->run(); }).detach();
}

dead_letter_desk::~dead_letter_desk() {
    std::unique_lock lock(shared_->mu);
    shared_->stopping = true;
    shared_->waiting.clear();
    shared_->in_flight = nullptr;
    shared_->cv.notify_all();
    if (!shared_->exited.wait_for(lock, exit_wait, [&] { return !shared_->running; }))
        PFO3_LOG(warn, "a dead-letter request is still inside a broker call; leaving it behind at exit");
}

void dead_letter_desk::handle(json::request req, net::dispatcher::reply done) {
    std::unique_lock lock(shared_->mu);
    if (shared_->stopping || shared_->waiting.size() >= shared_->max_waiting) {
        lock.unlock();
        done(json::encode_rejected(request_error::overloaded,
                                   "too many dead-letter requests waiting; nothing was changed, retry later"));
        return;
    }
    shared_->waiting.push_back(job{std::move(req), std::move(done)});
    shared_->cv.notify_one();
}

}  // namespace pfo3::serve
