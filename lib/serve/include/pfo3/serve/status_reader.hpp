#pragma once
// Answers `status` requests for serve from the result store on a few threads of their own, so a
// PostgreSQL or S3 round trip never holds up serve's I/O thread (and every other connection
// with it). Each thread opens its own store handle on first use: libpq connections and curl
// handles are not shared between threads. The queue of waiting reads is bounded; past it a
// status is answered `overloaded` at once.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pfo3/net/dispatcher.hpp"
#include "pfo3/serve/accepted_ids.hpp"
#include "pfo3/store/result_store.hpp"

namespace pfo3::serve {

class status_reader {
public:
    /// Opens one store handle (called on a reader thread, on first use and after a failure).
    /// It must own what it uses (capture settings by value): a thread left behind at exit
    /// may still call it after the caller's objects are gone.
    /// `use`: read for status reads, write for the `scheduled` records.
    using opener = std::function<std::unique_ptr<store::result_store>(store::store_use use)>;
    /// Starts `threads` reader threads.
    status_reader(opener open, std::size_t threads, std::size_t max_waiting);
    /// Stops the threads; reads still waiting are dropped unanswered (their connections are
    /// closed by then: serve destroys this only after its I/O loop has ended, and before that
    /// loop's io_context). A thread stuck in a store round trip is waited for at most
    /// `exit_wait`, then left behind, so a hung store cannot keep serve from exiting; the
    /// reply callback of its read is dropped here, so the thread touches nothing but what it
    /// owns with the others (`shared`: the opener and its copy of the settings).
    ~status_reader();
    status_reader(const status_reader&) = delete;
    status_reader& operator=(const status_reader&) = delete;

    /// Queues a read of `id`; `done` gets the response line: the status, `unavailable` with a
    /// generic message when the store fails (its detail goes to the log only), or `overloaded`
    /// at once when max_waiting reads already wait. Thread-safe.
    void read(std::string id, net::dispatcher::reply done);
    /// Queues a write of `r` (serve's `scheduled` record, decision 0012), then answers `line`
    /// whether or not the store took it: the task is already held by the broker, and a record
    /// that could not be written only means `status` says `pending` until the task runs (the
    /// failure is logged). Thread-safe.
    void record(task_record r, std::string line, net::dispatcher::reply done);
    /// Queues a cancel of `id` (issue 16): no record → not_found; a final one → too_late with
    /// its status; else the record becomes `cancel_requested` with the reason (durable before
    /// the answer) and the answer is `cancel_requested` — unless a worker stored a final
    /// record meanwhile (read back after the write), which is too_late. Thread-safe.
    void cancel(std::string id, std::string reason, net::dispatcher::reply done);

    /// What cancels use beyond the store (decision 0015); set before the first cancel.
    struct cancel_hooks {
        /// Ids this serve accepted: one of them with no record is a task queued to run now,
        /// whose cancel writes a cancel_requested record (not not_found). May be null.
        std::shared_ptr<const accepted_ids> accepted;
        /// Called once a cancel_requested record is durable (not when too_late): sends the
        /// event to the workers. Must own what it uses (a thread may be left behind at exit).
        std::function<void(const std::string& id, const std::string& why)> announce;
    };
    void set_cancel_hooks(cancel_hooks hooks);

private:
    struct job {
        std::string id;
        net::dispatcher::reply done;
        std::optional<task_record> record;  ///< set: write it and answer `line`
        std::string line;
        bool cancel = false;                ///< a cancel; `line` holds its reason
    };
    static std::string cancel_answer(store::result_store& store, const job& j, const cancel_hooks& hooks);
    // Answers a job: the status line of a read, or the given line after a write.
    static std::string answer(store::result_store& store, job& j, const cancel_hooks& hooks);
    // Shared with the threads, so one left behind at exit still has it.
    struct shared {
        opener open;
        std::size_t max_waiting;
        std::mutex mu;
        std::condition_variable cv;       // a job or the stop
        std::condition_variable exited;   // a thread returned
        std::deque<job> waiting;          // guarded by mu
        /// The reply of the read each thread is doing (by thread index); guarded by mu.
        std::vector<net::dispatcher::reply> in_flight;
        bool stopping = false;            // guarded by mu
        cancel_hooks hooks;               // guarded by mu (copied per cancel)
        std::size_t running = 0;          // guarded by mu
    };
    static void run(const std::shared_ptr<shared>& s, std::size_t index);

    std::shared_ptr<shared> s_;
    std::vector<std::thread> threads_;
};

}  // namespace pfo3::serve
