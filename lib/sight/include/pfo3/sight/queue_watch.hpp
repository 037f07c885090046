#pragma once
// serve's view of its queues for the status page: a thread of its own reads the depth and
// consumers of each queue (passive declare, its own AMQP connection) every period. A queue
// it cannot read shows as unknown. Thread-safe front: json() from the I/O thread.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pfo3/sight/sources.hpp"

namespace pfo3::sight {

class queue_watch {
public:
    queue_watch(std::vector<std::string> queues, std::chrono::seconds period, broker_picker broker);
    ~queue_watch();
    queue_watch(const queue_watch&) = delete;
    queue_watch& operator=(const queue_watch&) = delete;

    void start();
    /// Stops the thread (one stuck on a hung broker is detached: it owns its state).
    void stop();
    /// [{"name":…,"messages":N|null,"consumers":N|null}…] in the order given.
    std::string json() const;
    /// Messages in queue `i` (of the list), -1 while unknown.
    std::int64_t messages(std::size_t i) const;

private:
    struct state;
    static void run(const std::shared_ptr<state>& st);
    std::shared_ptr<state> state_;
    std::thread thread_;
};

}  // namespace pfo3::sight
