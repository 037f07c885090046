#include "load.hpp"
#include "tls_channel.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <latch>
#include <thread>

#include "pfo3/core/error.hpp"
#include "pfo3/core/unique_fd.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/net/client.hpp"

namespace pfo3::bench {

namespace {

using clock = std::chrono::steady_clock;

// A response line longer than this means a broken server, not a big answer to a submit.
constexpr std::size_t max_response_bytes = 1u << 20;
// Requests queued for writing at most; bounds the send buffer of one connection.
constexpr std::size_t max_pending_write = 256u << 10;
constexpr std::size_t read_chunk = 64u << 10;

std::int64_t ns_between(clock::time_point from, clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

std::string errno_text(int e) { return std::system_category().message(e); }

// Connects without blocking past `timeout`; returns a non-blocking socket with TCP_NODELAY.
unique_fd connect_to(const std::string& server, std::chrono::milliseconds timeout) {
    auto [host, port] = net::split_host_port(server, "server address");
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
        throw service_error("resolve " + server + ": " + ::gai_strerror(rc), true);
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(found, ::freeaddrinfo);
    std::string last_error = "no address";
    for (addrinfo* a = found; a; a = a->ai_next) {
        unique_fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
        if (!fd) {
            last_error = errno_text(errno);
            continue;
        }
        if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            last_error = errno_text(errno);
            continue;
        }
        pollfd p{fd.get(), POLLOUT, 0};
        int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
        if (rc == 0) {
            last_error = "timed out after " + std::to_string(timeout.count()) + " ms";
            continue;
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (rc < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) {
            last_error = errno_text(err);
            continue;
        }
        int one = 1;
        // Pipelined small requests must leave at once, not wait for Nagle.
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
    }
    throw service_error("connect to " + server + ": " + last_error, true);
}

// Everything one connection thread produces; merged by run_load() after the join.
struct connection_outcome {
    std::vector<task_timing> tasks;
    std::vector<std::string> ids;
    std::vector<std::int64_t> id_submit_ns;
    std::map<std::string, std::size_t> errors;
    std::string failure;
    bool connect_failed = false;
    unique_fd fd;
    std::unique_ptr<tls_channel> tls;  ///< set when the load runs over TLS
};

class connection_run {
public:
    connection_run(const load_options& o, std::size_t index, connection_outcome& out)
        : o_(o), index_(index), out_(out) {
        const std::size_t c = o.connections;
        count_ = o.tasks / c + (index < o.tasks % c ? 1 : 0);
        out_.tasks.resize(count_);
    }

    void run(clock::time_point t0) {
        t0_ = t0;
        try {
            loop();
        } catch (const service_error& e) {
            out_.failure = e.what();
            if (answered_ < count_) out_.errors["connection_lost"] += count_ - answered_;
        }
        ::shutdown(out_.fd.get(), SHUT_RDWR);
        out_.tls.reset();
        out_.fd.reset();
    }

private:
    // Open loop: connection i sends the global tasks i, i+C, i+2C, ..., task g due at g/rate.
    std::int64_t due_ns(std::size_t k) const {
        const double g = static_cast<double>(k * o_.connections + index_);
        return static_cast<std::int64_t>(g / *o_.rate * 1e9);
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw service_error(what + " (connection " + std::to_string(index_) + " to " + o_.server + ", after " +
                                std::to_string(answered_) + " of " + std::to_string(count_) + " responses)",
                            true);
    }

    void fill(std::int64_t now_ns) {
        const bool open = o_.rate.has_value();
        while (sent_ < count_ && sent_ - answered_ < o_.window && out_buf_.size() - out_off_ < max_pending_write) {
            const std::int64_t due = open ? due_ns(sent_) : now_ns;
            if (due > now_ns) break;
            out_buf_ += o_.request;
            out_buf_ += '\n';
            out_.tasks[sent_++].submit_ns = due;
        }
    }

    void write_some() {
        while (out_off_ < out_buf_.size()) {
            ssize_t n = out_.tls ? out_.tls->send(out_buf_.data() + out_off_, out_buf_.size() - out_off_)
                                 : ::send(out_.fd.get(), out_buf_.data() + out_off_, out_buf_.size() - out_off_,
                                          MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                fail("write: " + (out_.tls && errno == EIO ? out_.tls->error() : errno_text(errno)));
            }
            out_off_ += static_cast<std::size_t>(n);
        }
        out_buf_.clear();
        out_off_ = 0;
    }

    void on_line(std::string_view line, std::int64_t now_ns) {
        if (awaiting_auth_) {
            // The first answer is the auth request's: the load must not count it.
            awaiting_auth_ = false;
            auto r = json::decode_response(line);
            if (!r || !r->ok) fail("the server refused the token: " + (r ? r->error + ": " + r->message : std::string(line)));
            return;
        }
        if (answered_ >= sent_) fail("a response arrived for a request never sent");
        auto& t = out_.tasks[answered_++];
        t.answer_ns = now_ns;
        auto r = json::decode_response(line);
        if (r && r->ok && !r->id.empty()) {
            t.ok = true;
            out_.ids.push_back(std::move(r->id));
            out_.id_submit_ns.push_back(t.submit_ns);
        } else {
            ++out_.errors[r ? (r->error.empty() ? "no_error_code" : r->error) : "bad_response"];
        }
    }

    void read_some() {
        char chunk[read_chunk];
        for (;;) {
            ssize_t n = out_.tls ? out_.tls->recv(chunk, sizeof chunk) : ::recv(out_.fd.get(), chunk, sizeof chunk, 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                fail("read: " + (out_.tls && errno == EIO ? out_.tls->error() : errno_text(errno)));
            }
            if (n == 0) fail("the server closed the connection");
            const std::int64_t now_ns = ns_between(t0_, clock::now());
            in_buf_.append(chunk, static_cast<std::size_t>(n));
            std::size_t start = 0;
            for (;;) {
                const auto nl = in_buf_.find('\n', start + scanned_);
                if (nl == std::string::npos) break;
                on_line(std::string_view(in_buf_).substr(start, nl - start), now_ns);
                start = nl + 1;
                scanned_ = 0;
            }
            in_buf_.erase(0, start);
            scanned_ = in_buf_.size();
            if (in_buf_.size() > max_response_bytes) fail("a response line is longer than 1 MiB");
            // A TLS read returns one record at most: read on until it would block, or the
            // records OpenSSL already holds would wait for a readiness that never comes.
            if (!out_.tls && static_cast<std::size_t>(n) < sizeof chunk) return;
        }
    }

    void loop() {
        if (!o_.token.empty()) {
            out_buf_ = "{\"op\":\"auth\",\"token\":" + json::quote(o_.token) + "}\n";
            awaiting_auth_ = true;
        }
        auto last_progress = clock::now();
        while (answered_ < count_) {
            const auto now = clock::now();
            const std::int64_t now_ns = ns_between(t0_, now);
            fill(now_ns);
            write_some();

            // Sleep until a response, writability, the next due time or the stall deadline.
            std::int64_t wait_ns = ns_between(now, last_progress + o_.stall_timeout);
            if (wait_ns <= 0) fail("no response for " + std::to_string(o_.stall_timeout.count()) + " ms");
            if (o_.rate && sent_ < count_ && sent_ - answered_ < o_.window)
                wait_ns = std::min(wait_ns, std::max<std::int64_t>(0, due_ns(sent_) - now_ns));
            pollfd p{out_.fd.get(), static_cast<short>(POLLIN | (out_off_ < out_buf_.size() ? POLLOUT : 0)), 0};
            timespec ts{static_cast<time_t>(wait_ns / 1000000000), static_cast<long>(wait_ns % 1000000000)};
            int rc = ::ppoll(&p, 1, &ts, nullptr);
            if (rc < 0 && errno != EINTR) fail("poll: " + errno_text(errno));
            if (rc > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP))) {
                const std::size_t before = answered_;
                read_some();
                if (answered_ != before) last_progress = clock::now();
            }
            if (rc > 0 && (p.revents & POLLOUT)) last_progress = clock::now();
        }
    }

    const load_options& o_;
    std::size_t index_;
    connection_outcome& out_;
    std::size_t count_ = 0;
    std::size_t sent_ = 0;
    std::size_t answered_ = 0;
    clock::time_point t0_;
    std::string out_buf_;
    std::size_t out_off_ = 0;
    std::string in_buf_;
    std::size_t scanned_ = 0;  // bytes at the start of in_buf_ known to hold no '\n'
    bool awaiting_auth_ = false;  // the auth request's answer has not arrived yet
};

}  // namespace

load_result run_load(const load_options& opts) {
    if (opts.tasks == 0 || opts.connections == 0 || opts.window == 0)
        throw config_error("bench: --tasks, --connections and --window must be at least 1");
    if (opts.connections > opts.tasks) throw config_error("bench: --connections must not exceed --tasks");
    if (opts.rate && !(*opts.rate > 0)) throw config_error("bench: --rate must be positive");

    const std::size_t c = opts.connections;
    std::vector<connection_outcome> outcomes(c);
    std::latch connected(static_cast<std::ptrdiff_t>(c));
    std::latch go(1);
    clock::time_point t0;
    std::vector<std::thread> threads;
    threads.reserve(c);
    for (std::size_t i = 0; i < c; ++i) {
        threads.emplace_back([&, i] {
            auto& out = outcomes[i];
            connection_run run(opts, i, out);
            try {
                out.fd = connect_to(opts.server, opts.connect_timeout);
                if (opts.tls.enabled)
                    out.tls = std::make_unique<tls_channel>(out.fd.get(), opts.tls,
                                                            net::split_host_port(opts.server, "server").first,
                                                            opts.connect_timeout);
            } catch (const service_error& e) {
                out.failure = e.what();
                out.connect_failed = true;
            }
            connected.count_down();
            go.wait();
            if (out.connect_failed) {
                out.errors["connection_lost"] += out.tasks.size();
                return;
            }
            run.run(t0);
        });
    }
    // Every connection is up (or has failed) before time zero, so connecting is not load.
    connected.wait();
    load_result r;
    t0 = clock::now();
    r.start = t0;
    r.wall_start = std::chrono::system_clock::now();
    go.count_down();
    for (auto& t : threads) t.join();
    r.end_ns = ns_between(t0, clock::now());

    for (auto& o : outcomes) {
        r.tasks.insert(r.tasks.end(), o.tasks.begin(), o.tasks.end());
        r.ids.insert(r.ids.end(), std::make_move_iterator(o.ids.begin()), std::make_move_iterator(o.ids.end()));
        r.id_submit_ns.insert(r.id_submit_ns.end(), o.id_submit_ns.begin(), o.id_submit_ns.end());
        for (auto& [code, n] : o.errors) r.errors[code] += n;
        if (!o.failure.empty()) r.failures.push_back(o.failure);
        if (o.connect_failed) ++r.connections_failed;
    }
    return r;
}

}  // namespace pfo3::bench
