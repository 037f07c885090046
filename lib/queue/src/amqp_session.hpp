#pragma once
// Private to the queue module: the owner thread of one long-lived AMQP connection
// (decision 0002), shared by the publisher and the consumer. It connects, lets the owner set
// the channel up and run it, and when the connection is lost moves to the next broker URL
// (url_rotation.hpp, decision 0013) at once; once every URL failed in a round it backs off
// (100 ms doubling to 5 s, full jitter). It logs which URL it lost and why, one warning per
// outage, and "reconnected" naming the URL it is on when the outage is over. What differs between publisher and consumer is in the virtual steps below; each is
// called on the owner thread only.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>

#include "amqp_connection.hpp"
#include "pfo3/queue/failover.hpp"
#include "pfo3/queue/connection_stats.hpp"

namespace pfo3::queue::detail {

/// A wake-up signal another thread can raise and the owner thread can poll(): an eventfd.
class wakeup {
public:
    /// Creates the eventfd; throws service_error if the kernel refuses.
    wakeup();
    ~wakeup();
    wakeup(const wakeup&) = delete;
    wakeup& operator=(const wakeup&) = delete;
    /// Makes fd() readable (thread-safe, never blocks).
    void notify() const noexcept;
    /// Clears the signal (owner thread).
    void drain() const noexcept;
    /// Waits until raised, at most `timeout`.
    void wait(std::chrono::milliseconds timeout) const noexcept;
    /// The descriptor to poll for POLLIN.
    int fd() const noexcept { return fd_; }

private:
    int fd_ = -1;
};

/// What a session is for, as its logs and errors say it.
struct session_options {
    broker_failover broker;       ///< at least one URL (with_urls)
    std::string connection_name;  ///< shown in the RabbitMQ management UI
    std::string queue;            ///< the task queue, for the first "connected" line
    std::string op;               ///< "publish" / "consume": names the role in errors
    std::string while_down;       ///< what users lose while there is no connection
    std::string when_lost;        ///< what became of what was in flight when it was lost
    std::string in_flight_key;    ///< the log key of in_flight()
    connection_stats* stats = nullptr;  ///< counted when set
};

class session {
public:
    explicit session(session_options o);
    /// A derived class must call stop() in its own destructor: the owner thread calls its
    /// overrides until then.
    virtual ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Starts the owner thread (once; not after stop()).
    void start();
    /// Asks the owner thread to finish, wakes it and joins it. Thread-safe, idempotent.
    void stop();
    /// True once stop() was called (any thread).
    bool stopping() const noexcept { return stopping_.load(); }
    /// Wakes the owner thread (any thread, never blocks).
    void notify() const noexcept { wake_.notify(); }

protected:
    /// After login and channel.open: declare, confirm.select, qos + consume... Throwing fails
    /// the attempt (and the session retries).
    virtual void set_up(connection& c) = 0;
    /// The connection is set up and about to be served.
    virtual void on_up() {}
    /// Runs the connection until stopping (returns) or until it is lost (throws).
    virtual void serve(connection& c) = 0;
    /// serve() ended: `lost` if it threw. Called before the connection is closed.
    virtual void on_down(bool lost) = 0;
    /// What was in flight when the connection was lost (logged under in_flight_key).
    virtual std::size_t in_flight() const = 0;
    /// Without a connection, each time the owner thread wakes: answer what was asked meanwhile.
    virtual void while_down() = 0;
    /// Last, after the final connection is closed.
    virtual void on_finish() = 0;

    /// serve()'s pause: see connection::wait (the wake-up is notify()).
    void wait(connection& c, clock::time_point until) {
        c.wait(wake_.fd(), until, opts_.op);
        wake_.drain();
    }

private:
    void run();
    void idle_wait(std::chrono::milliseconds d);

    const session_options opts_;
    const std::string cannot_connect_, lost_;  // log messages
    wakeup wake_;
    std::atomic<bool> stopping_{false};
    std::mutex thread_mu_;  // start() and stop() from several threads
    std::thread thread_;
};

}  // namespace pfo3::queue::detail
