#pragma once
// Serve's shutdown: the first SIGINT/SIGTERM stops accepting and lets the requests in flight be
// answered for up to `grace`, then closes what is left; a second signal closes every connection
// at once. io.run() returns once the server has shut down. Lives on the I/O thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>

#include "pfo3/net/server.hpp"

namespace pfo3::serve {

class graceful_stop {
public:
    /// `on_stop` runs at the first signal, `on_stopped` once the server has shut down (each ends
    /// other waits on `io`, such as SIGHUP's or the HTTP listener's, so io.run() can return).
    graceful_stop(boost::asio::io_context& io, net::server& server, std::chrono::seconds grace,
                  std::function<void()> on_stop = {}, std::function<void()> on_stopped = {});
    graceful_stop(const graceful_stop&) = delete;
    graceful_stop& operator=(const graceful_stop&) = delete;

private:
    void arm();
    void on_signal(int sig);

    net::server& server_;
    std::chrono::seconds grace_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer timer_;
    std::function<void()> on_stop_;
    std::function<void()> on_stopped_;
    bool stopping_ = false;
};

}  // namespace pfo3::serve
