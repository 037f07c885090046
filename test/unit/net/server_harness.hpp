#pragma once
// What the server tests share: a fake dispatcher (answers at once, or holds replies until the
// test releases them), a server on its own io_context run by two threads, and readers with
// deadlines.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pfo3/json/protocol.hpp"
#include "pfo3/net/client.hpp"
#include "pfo3/net/server.hpp"

namespace server_harness {

using namespace std::chrono_literals;
using pfo3::net::client;

inline constexpr auto deadline = 10s;

// Answers ping with pong and submit with "accepted <id>"; in hold mode it keeps the replies
// until the test releases them.
class fake_dispatcher : public pfo3::net::dispatcher {
public:
    struct held_request {
        pfo3::json::request req;
        reply done;
    };

    void dispatch(pfo3::json::request req, reply done) override {
        std::unique_lock lock(mutex_);
        ++dispatched_;
        if (hold_) {
            held_.push_back({std::move(req), std::move(done)});
            cv_.notify_all();
            return;
        }
        const std::size_t result_bytes = status_result_bytes_;
        lock.unlock();
        cv_.notify_all();
        if (req.kind == pfo3::json::op::status && result_bytes > 0)
            done(status_line(req.id, result_bytes));
        else
            done(answer(req));
    }

    /// A status reply whose result is a string of `result_bytes` bytes.
    static std::string status_line(const std::string& id, std::size_t result_bytes) {
        pfo3::task_record r;
        r.result_json = "\"" + std::string(result_bytes, 'r') + "\"";
        return pfo3::json::encode_status(id, r);
    }

    /// From now on status requests are answered with results of this many bytes.
    void answer_status_with(std::size_t result_bytes) {
        std::lock_guard lock(mutex_);
        status_result_bytes_ = result_bytes;
    }

    static std::string answer(const pfo3::json::request& r) {
        return r.kind == pfo3::json::op::ping ? pfo3::json::encode_pong()
                                              : pfo3::json::encode_accepted(r.id);
    }

    void hold(bool on) {
        std::lock_guard lock(mutex_);
        hold_ = on;
    }

    /// Waits until at least n requests were dispatched.
    bool wait_dispatched(std::size_t n, std::chrono::milliseconds timeout = deadline) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] { return dispatched_ >= n; });
    }

    std::size_t dispatched() {
        std::lock_guard lock(mutex_);
        return dispatched_;
    }

    /// Waits until at least one request is held, then takes all held ones.
    std::vector<held_request> take_held(std::chrono::milliseconds timeout = deadline) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, timeout, [&] { return !held_.empty(); });
        return std::exchange(held_, {});
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool hold_ = false;
    std::size_t status_result_bytes_ = 0;
    std::size_t dispatched_ = 0;
    std::vector<held_request> held_;
};

inline pfo3::net::server_options local_options() {
    pfo3::net::server_options o;
    o.listen = "127.0.0.1:0";
    return o;
}

// A server on its own io_context, run by two threads so that strands matter.
struct running_server {
    explicit running_server(pfo3::net::server_options o = local_options()) : srv(io, std::move(o), d) {
        srv.start();
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    }
    ~running_server() {
        srv.close_all();
        for (auto& t : threads) t.join();
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(srv.port()); }
    client connect() const { return client(address(), 5000ms); }

    boost::asio::io_context io;
    fake_dispatcher d;
    pfo3::net::server srv;
    std::vector<std::thread> threads;
};

inline std::string read(client& c) {
    auto line = c.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(deadline));
    REQUIRE(line);
    return *line;
}

inline bool closed(client& c) {
    return !c.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(deadline));
}

inline std::string submit(const std::string& id) {
    return R"({"op":"submit","type":"echo","payload":1,"id":")" + id + "\"}";
}

inline std::string accepted(const std::string& id) {
    auto line = pfo3::json::encode_accepted(id);
    line.pop_back();
    return line;
}

inline std::string pong() {
    auto line = pfo3::json::encode_pong();
    line.pop_back();
    return line;
}

inline bool has_error(const std::string& line, const std::string& code) {
    return line.find(R"("ok":false)") != std::string::npos &&
           line.find(R"("error":")" + code + "\"") != std::string::npos;
}

}  // namespace server_harness
