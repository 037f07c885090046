#include "pfo3/serve/graceful_stop.hpp"

#include <csignal>
#include <string>

#include "pfo3/core/log.hpp"
#include "pfo3/ops/notify.hpp"

namespace pfo3::serve {

graceful_stop::graceful_stop(boost::asio::io_context& io, net::server& server, std::chrono::seconds grace,
                             std::function<void()> on_stop, std::function<void()> on_stopped)
    : server_(server),
      grace_(grace),
      signals_(io, SIGINT, SIGTERM),
      timer_(io),
      on_stop_(std::move(on_stop)),
      on_stopped_(std::move(on_stopped)) {
    arm();
}

void graceful_stop::arm() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (!ec) on_signal(sig);
    });
}

void graceful_stop::on_signal(int sig) {
    if (stopping_) {
        PFO3_LOG(warn, "second signal: closing every connection now", {{"signal", std::to_string(sig)}});
        server_.close_all();
        return;
    }
    stopping_ = true;
    if (on_stop_) on_stop_();
    ops::notify_stopping();
    PFO3_LOG(info, "stopping: no new connections; answering requests in flight",
             {{"signal", std::to_string(sig)}, {"connections", std::to_string(server_.connection_count())}});
    server_.shutdown([this] {
        timer_.cancel();
        signals_.cancel();
        if (on_stopped_) on_stopped_();
    });
    timer_.expires_after(grace_);
    timer_.async_wait([this](const boost::system::error_code& e) {
        if (e) return;
        PFO3_LOG(warn, "grace period over: closing remaining connections",
                 {{"connections", std::to_string(server_.connection_count())}});
        server_.close_all();
    });
    arm();
}

}  // namespace pfo3::serve
