#include "amqp_session.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>

#include "pfo3/core/backoff.hpp"
#include "pfo3/core/log.hpp"

namespace pfo3::queue::detail {

wakeup::wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw service_error(std::string("eventfd: ") + std::strerror(errno), false);
}

wakeup::~wakeup() { ::close(fd_); }

void wakeup::notify() const noexcept {
    std::uint64_t one = 1;
    // EAGAIN only when the counter is saturated, which still leaves it readable.
    ssize_t n = ::write(fd_, &one, sizeof one);
    (void)n;
}

void wakeup::drain() const noexcept {
    std::uint64_t v;
    ssize_t n = ::read(fd_, &v, sizeof v);
    (void)n;
}

void wakeup::wait(std::chrono::milliseconds timeout) const noexcept {
    pollfd p{fd_, POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, timeout.count())));
}

session::session(session_options o)
    : opts_(std::move(o)),
      cannot_connect_("cannot connect to the broker; " + opts_.while_down + " until it is back, retrying"),
      lost_("lost the broker connection; " + opts_.when_lost + ", reconnecting") {}

session::~session() = default;

void session::start() {
    std::lock_guard lk(thread_mu_);
    if (thread_.joinable() || stopping_.load()) return;
    thread_ = std::thread([this] { run(); });
}

void session::stop() {
    std::lock_guard lk(thread_mu_);
    stopping_.store(true);
    wake_.notify();
    if (thread_.joinable()) thread_.join();
}

// Waits `d` (or until stop) without a connection, answering what is asked meanwhile.
void session::idle_wait(std::chrono::milliseconds d) {
    const auto until = clock::now() + d;
    for (;;) {
        while_down();
        if (stopping_.load()) return;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
        if (left.count() <= 0) return;
        wake_.wait(left);
        wake_.drain();
    }
}

void session::run() {
    backoff retry(backoff_policy{std::chrono::milliseconds(100), 2.0, std::chrono::milliseconds(5000), 0.2});
    bool outage = false;
    const std::string url = opts_.url.masked();
    while (!stopping_.load()) {
        std::unique_ptr<connection> c;
        try {
            c = std::make_unique<connection>(opts_.url, opts_.connection_name, heartbeat_seconds);
            set_up(*c);
        } catch (const std::exception& e) {
            c.reset();
            if (opts_.stats) opts_.stats->failed_attempts.fetch_add(1, std::memory_order_relaxed);
            bool retryable = true;
            if (auto* se = dynamic_cast<const service_error*>(&e)) retryable = se->retryable();
            if (!outage) {
                if (retryable)
                    PFO3_LOG(warn, cannot_connect_, {{"url", url}, {"error", e.what()}});
                else
                    PFO3_LOG(error, "the broker refused us; fix the settings, retrying meanwhile",
                             {{"url", url}, {"error", e.what()}});
                outage = true;
            } else {
                PFO3_LOG(debug, "reconnect failed", {{"url", url}, {"error", e.what()}});
            }
            idle_wait(retry.next());
            continue;
        }
        on_up();
        if (opts_.stats) {
            opts_.stats->connects.fetch_add(1, std::memory_order_relaxed);
            opts_.stats->up.store(true);
        }
        if (outage) PFO3_LOG(info, "reconnected to the broker", {{"url", url}});
        else PFO3_LOG(info, "connected to the broker", {{"url", url}, {"queue", opts_.queue}});
        outage = false;
        retry.reset();
        try {
            serve(*c);
            if (opts_.stats) opts_.stats->up.store(false);
            on_down(false);
            c->close();
        } catch (const std::exception& e) {
            if (opts_.stats) {
                opts_.stats->up.store(false);
                opts_.stats->lost.fetch_add(1, std::memory_order_relaxed);
            }
            PFO3_LOG(warn, lost_,
                     {{"url", url}, {"error", e.what()}, {opts_.in_flight_key, std::to_string(in_flight())}});
            on_down(true);
            outage = true;
            c.reset();
            if (!stopping_.load()) idle_wait(retry.next());
        }
    }
    on_finish();
}

}  // namespace pfo3::queue::detail
