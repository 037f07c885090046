#pragma once
// What the engine's unit tests run it against: the real file store in a fresh directory (behind
// a wrapper that can fail or hold writes), the real handler registry, and, in place of the
// consumer and the broker, recorders of acks, nacks and published messages.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/store/result_store.hpp"
#include "pfo3/worker/engine.hpp"
#include "pfo3_test/temp_dir.hpp"

namespace worker_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using pfo3::test::temp_dir;

// Waits on a condition over state guarded by `mu`, bounded so that a broken engine fails the
// test instead of hanging it.
template <class Pred>
bool await(std::mutex& mu, std::condition_variable& cv, Pred pred, std::chrono::milliseconds limit = 20s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, pred);
}

struct settlement {
    std::uint64_t tag;
    bool ack;
    bool requeue;
};

// Stands in for the consumer: records every ack and nack.
class recording_settler final : public pfo3::worker::settler {
public:
    void ack(std::uint64_t, std::uint64_t tag) override { add({tag, true, false}); }
    void nack(std::uint64_t, std::uint64_t tag, bool requeue) override { add({tag, false, requeue}); }
    bool await_count(std::size_t n, std::chrono::milliseconds limit = 20s) {
        return await(mu, cv, [&] { return log.size() >= n; }, limit);
    }
    std::vector<settlement> all() {
        std::lock_guard lock(mu);
        return log;
    }
    std::size_t acks_of(std::uint64_t tag) {
        std::lock_guard lock(mu);
        std::size_t n = 0;
        for (auto& s : log) n += s.tag == tag && s.ack;
        return n;
    }

private:
    void add(settlement s) {
        {
            std::lock_guard lock(mu);
            log.push_back(s);
        }
        cv.notify_all();
    }
    std::mutex mu;
    std::condition_variable cv;
    std::vector<settlement> log;
};

// Stands in for the broker's confirm of retries and dead letters.
class recording_sink final : public pfo3::worker::message_sink {
public:
    pfo3::queue::publish_outcome publish(const pfo3::queue::outgoing_message& msg) override {
        std::lock_guard lock(mu);
        sent.push_back(msg);
        return pfo3::queue::publish_outcome::confirmed;
    }
    std::vector<pfo3::queue::outgoing_message> messages() {
        std::lock_guard lock(mu);
        return sent;
    }

private:
    std::mutex mu;
    std::vector<pfo3::queue::outgoing_message> sent;
};

// The real file store, with faults on demand: `fail_writes` writes throw a retryable error,
// records whose id is in `refuse` are refused as such, and `hold` keeps writers waiting.
class faulty_store final : public pfo3::store::result_store {
public:
    explicit faulty_store(const fs::path& dir) : real_(pfo3::store::open_store("file://" + dir.string())) {}
    void write(std::span<const pfo3::task_record> records) override {
        std::unique_lock lock(mu);
        ++writes;
        cv.notify_all();
        cv.wait(lock, [&] { return !hold; });
        if (fail_writes > 0) {
            --fail_writes;
            throw pfo3::service_error("test store: write " + std::to_string(writes) + " fails", true);
        }
        for (const auto& r : records)
            if (refuse.count(r.id) && r.payload_json != "null")
                throw pfo3::record_rejected("test store: refuses " + r.id, records.size() == 1 ? r.id : "");
        lock.unlock();
        real_->write(records);
        lock.lock();
        stored += records.size();
        cv.notify_all();
    }
    std::optional<pfo3::task_record> read(std::string_view id) override { return real_->read(id); }
    std::vector<pfo3::store::pending_cancel> pending_cancels(std::size_t limit) override {
        return real_->pending_cancels(limit);
    }
    std::string describe() const override { return "test:" + real_->describe(); }

    void set_hold(bool h) {
        {
            std::lock_guard lock(mu);
            hold = h;
        }
        cv.notify_all();
    }
    bool await_writes(int n) { return await(mu, cv, [&] { return writes >= n; }); }

    std::mutex mu;
    std::condition_variable cv;
    int writes = 0;
    std::size_t stored = 0;
    int fail_writes = 0;
    bool hold = false;
    std::set<std::string> refuse;

private:
    std::unique_ptr<pfo3::store::result_store> real_;
};

inline std::uint64_t next_tag = 1;

inline pfo3::queue::delivery delivery_of(const pfo3::task& t, bool redelivered = false) {
    pfo3::queue::delivery d;
    d.generation = 1;
    d.tag = next_tag++;
    d.redelivered = redelivered;
    d.body = pfo3::json::encode_message(t);
    d.message_id = t.id;
    d.type = t.type;
    return d;
}

inline pfo3::task task_of(std::string id, std::string type, std::string payload, int attempt = 1) {
    pfo3::task t;
    t.id = std::move(id);
    t.type = std::move(type);
    t.payload_json = std::move(payload);
    t.submitted_at = "2026-12-06T00:00:00.000Z";
    t.attempt = attempt;
    return t;
}

inline pfo3::worker::engine_options options(int concurrency = 2, std::size_t group = 16) {
    pfo3::worker::engine_options o;
    o.concurrency = concurrency;
    o.max_group = group;
    o.max_attempts = 3;
    o.retry_backoff = {std::chrono::milliseconds(1000), 4.0, std::chrono::milliseconds(60000), 0.0};
    o.topo = {"tasks", "classic"};
    o.worker = "test:1";
    return o;
}

// Lines in a file, 0 if there is none: how often a handler that appends a line ran.
inline std::size_t line_count(const fs::path& p) {
    std::ifstream f(p);
    std::size_t n = 0;
    for (std::string line; std::getline(f, line);) ++n;
    return n;
}

// Counts its runs in a file: the test can tell whether a handler ran again.
struct counted_handlers {
    temp_dir dir;
    fs::path runs = dir.path / "runs";
    pfo3::handlers::registry registry{{
        {"count", {{"/bin/sh", "-c", "echo run >> '" + runs.string() + "'; cat"}, std::chrono::seconds(20)}},
        {"fail", {{"/bin/sh", "-c", "echo run >> '" + runs.string() + "'; exit 3"}, std::chrono::seconds(20)}},
        {"crash", {{"/bin/sh", "-c", "kill -SEGV $$"}, std::chrono::seconds(20)}},
    }};
    std::size_t run_count() const { return line_count(runs); }
};

// An engine between the stand-ins above, with the handlers of `Handlers` (a struct holding a
// `registry`); deliveries go in through submit() (any thread) or collect() (the consumer's way).
template <class Handlers>
struct engine_rig {
    temp_dir results;
    faulty_store store{results.path};
    recording_settler settler;
    recording_sink sink;
    Handlers handlers;
    std::unique_ptr<pfo3::worker::engine> eng;

    explicit engine_rig(pfo3::worker::engine_options o = options()) {
        eng = std::make_unique<pfo3::worker::engine>(std::move(o), handlers.registry, store, sink);
    }
    std::uint64_t submit(const pfo3::task& t, bool redelivered = false) { return submit(delivery_of(t, redelivered)); }
    std::uint64_t submit(pfo3::queue::delivery d) {
        auto tag = d.tag;
        eng->submit(pfo3::worker::delivery_guard(std::move(d), settler));
        return tag;
    }
    std::uint64_t collect(const pfo3::task& t, bool redelivered = false) {
        auto d = delivery_of(t, redelivered);
        auto tag = d.tag;
        eng->collect(pfo3::worker::delivery_guard(std::move(d), settler));
        return tag;
    }
    pfo3::task_record stored(const std::string& id) {
        auto r = store.read(id);
        REQUIRE(r.has_value());
        return *r;
    }
    void store_now(pfo3::task_record r) { store.write(std::span<const pfo3::task_record>(&r, 1)); }
};

}  // namespace worker_test
