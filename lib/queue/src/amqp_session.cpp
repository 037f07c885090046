#include "amqp_session.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <memory>

#include "pfo3/core/backoff.hpp"
#include "pfo3/core/log.hpp"
#include "url_rotation.hpp"

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

namespace {

// Different in every process and session, so clients that lost the same node neither pick
// the same next URL (shuffle) nor come back at the same moment (jitter).
std::uint64_t seed_of(const void* self) {
    const auto now = static_cast<std::uint64_t>(clock::now().time_since_epoch().count());
    return now ^ (static_cast<std::uint64_t>(::getpid()) << 32) ^ reinterpret_cast<std::uintptr_t>(self);
}

// "2/3": which of the configured URLs, for logs that must not need the password to compare.
std::string node_of(std::size_t index, std::size_t count) {
    return std::to_string(index + 1) + "/" + std::to_string(count);
}

}  // namespace

void session::run() {
    const broker_failover& broker = opts_.broker;
    const std::uint64_t seed = seed_of(this);
    backoff retry(backoff_policy{std::chrono::milliseconds(100), 2.0, std::chrono::milliseconds(5000), 0.2,
                                 /*full_jitter*/ true},
                  seed);
    url_rotation rotation(broker.urls.size(), broker.order, seed >> 7);
    const std::size_t count = broker.urls.size();
    bool outage = false;
    bool first_round = true;  // of this outage: each failing URL is logged once
    std::string lost_url;     // the URL of the connection lost, for the "reconnected" line
    while (!stopping_.load()) {
        const std::size_t index = rotation.current();
        const amqp_url& target = broker.urls[index];
        const std::string url = target.masked();
        std::unique_ptr<connection> c;
        try {
            c = std::make_unique<connection>(target, opts_.connection_name, broker.heartbeat_s,
                                             broker.connect_timeout);
            set_up(*c);
        } catch (const std::exception& e) {
            c.reset();
            if (opts_.stats) opts_.stats->failed_attempts.fetch_add(1, std::memory_order_relaxed);
            bool retryable = true;
            if (auto* se = dynamic_cast<const service_error*>(&e)) retryable = se->retryable();
            const std::string node = node_of(index, count);
            const std::initializer_list<log::field> fields{{"url", url}, {"node", node}, {"error", e.what()}};
            if (!outage) {
                if (retryable)
                    PFO3_LOG(warn, cannot_connect_, fields);
                else
                    PFO3_LOG(error, "the broker refused us; fix the settings, retrying meanwhile", fields);
                outage = true;
            } else if (first_round && count > 1) {
                PFO3_LOG(warn, "this broker URL failed too; trying the next", fields);
            } else {
                PFO3_LOG(debug, "reconnect failed", fields);
            }
            // The next URL at once while this round has untried ones; a backoff after a round.
            if (rotation.failed()) {
                first_round = false;
                idle_wait(retry.next());
            } else {
                idle_wait(std::chrono::milliseconds(0));
            }
            continue;
        }
        on_up();
        if (opts_.stats) {
            opts_.stats->connects.fetch_add(1, std::memory_order_relaxed);
            opts_.stats->url_index.store(static_cast<std::uint32_t>(index), std::memory_order_relaxed);
            opts_.stats->up.store(true);
        }
        rotation.connected();
        if (outage)
            PFO3_LOG(info, "reconnected to the broker",
                     {{"url", url}, {"node", node_of(index, count)}, {"lost", lost_url.empty() ? "-" : lost_url}});
        else
            PFO3_LOG(info, "connected to the broker", {{"url", url}, {"node", node_of(index, count)}, {"queue", opts_.queue}});
        outage = false;
        first_round = true;
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
                     {{"url", url},
                      {"node", node_of(index, count)},
                      {"error", e.what()},
                      {opts_.in_flight_key, std::to_string(in_flight())}});
            on_down(true);
            outage = true;
            lost_url = url;
            c.reset();
            // Straight to the next URL: the node just lost is the one least likely to answer.
            // With a single URL, a short jittered pause so a flapping broker is not hammered.
            rotation.lost();
            if (!stopping_.load()) idle_wait(count > 1 ? std::chrono::milliseconds(0) : retry.next());
        }
    }
    on_finish();
}

}  // namespace pfo3::queue::detail
