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
#include <string>
#include <thread>
#include <vector>

#include "pfo3/net/dispatcher.hpp"
#include "pfo3/store/result_store.hpp"

namespace pfo3::app {

class status_reader {
public:
    /// Opens one store handle (called on a reader thread, on first use and after a failure).
    using opener = std::function<std::unique_ptr<store::result_store>()>;
    /// Starts `threads` reader threads.
    status_reader(opener open, std::size_t threads, std::size_t max_waiting);
    /// Stops the threads; reads still waiting are dropped unanswered (their connections are
    /// closed by then: serve destroys this only after its I/O loop has ended). A thread stuck
    /// in a store round trip is waited for at most `exit_wait`, then left behind (it owns
    /// what it uses), so a hung store cannot keep serve from exiting.
    ~status_reader();
    status_reader(const status_reader&) = delete;
    status_reader& operator=(const status_reader&) = delete;

    /// Queues a read of `id`; `done` gets the response line (status, `unavailable` with the
    /// cause, or `overloaded` at once when max_waiting reads already wait). Thread-safe.
    void read(std::string id, net::dispatcher::reply done);

private:
    struct job {
        std::string id;
        net::dispatcher::reply done;
    };
    // Shared with the threads, so one left behind at exit still has it.
    struct shared {
        opener open;
        std::size_t max_waiting;
        std::mutex mu;
        std::condition_variable cv;       // a job or the stop
        std::condition_variable exited;   // a thread returned
        std::deque<job> waiting;          // guarded by mu
        bool stopping = false;            // guarded by mu
        std::size_t running = 0;          // guarded by mu
    };
    static void run(const std::shared_ptr<shared>& s);

    std::shared_ptr<shared> s_;
    std::vector<std::thread> threads_;
};

}  // namespace pfo3::app
