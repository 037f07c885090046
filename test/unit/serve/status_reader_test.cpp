// status_reader against the real file store: answers, a store that fails, the bound on waiting
// reads, and a store that hangs at exit.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <span>
#include <string>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pfo3/serve/status_reader.hpp"
#include "pfo3/store/result_store.hpp"
#include "pfo3_test/temp_dir.hpp"

namespace fs = std::filesystem;
using pfo3::serve::status_reader;

namespace {

using pfo3::test::temp_dir;

// Collects the reply lines of reads, in the order they arrive, on any thread.
struct replies {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> lines;

    pfo3::net::dispatcher::reply sink() {
        return [this](std::string line) {
            std::lock_guard lk(mu);
            lines.push_back(std::move(line));
            cv.notify_all();
        };
    }
    std::vector<std::string> wait_for(std::size_t n) {
        std::unique_lock lk(mu);
        REQUIRE(cv.wait_for(lk, std::chrono::seconds(20), [&] { return lines.size() >= n; }));
        return lines;
    }
};

bool has(const std::string& line, const std::string& part) { return line.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("status_reader answers from the store: a stored record and an unknown id", "[serve]") {
    temp_dir dir;
    const std::string uri = "file://" + dir.path.string();
    pfo3::task_record r;
    r.id = "job-1";
    r.type = "echo";
    r.payload_json = R"({"x":1})";
    r.result_json = R"({"x":1})";
    r.worker = "host:1";
    pfo3::store::open_store(uri)->write(std::span<const pfo3::task_record>(&r, 1));

    replies got;
    {
        status_reader reader([uri](pfo3::store::store_use use) { return pfo3::store::open_store(uri, use); }, 2, 16);
        reader.read("job-1", got.sink());
        got.wait_for(1);
        reader.read("job-2", got.sink());
        got.wait_for(2);
    }
    REQUIRE(has(got.lines[0], R"("id":"job-1")"));
    REQUIRE(has(got.lines[0], R"("status":"done")"));
    REQUIRE(has(got.lines[0], R"("result":{"x":1})"));
    REQUIRE(has(got.lines[1], R"("id":"job-2")"));
    REQUIRE(has(got.lines[1], R"("status":"pending")"));
}

TEST_CASE("status_reader answers a failing store with a generic unavailable and opens it again", "[serve]") {
    temp_dir dir;
    const std::string uri = "file://" + dir.path.string();
    std::atomic<int> opens{0};
    replies got;
    {
        status_reader reader(
            [uri, &opens](pfo3::store::store_use) -> std::unique_ptr<pfo3::store::result_store> {
                if (opens++ == 0) throw pfo3::service_error("connect to 10.0.0.9:5432 refused (password=secret)", true);
                return pfo3::store::open_store(uri);
            },
            1, 16);
        reader.read("a", got.sink());
        got.wait_for(1);
        reader.read("a", got.sink());
        got.wait_for(2);
    }
    // The store's detail (hosts, secrets) is for the log, never for the client.
    REQUIRE(has(got.lines[0], R"("ok":false)"));
    REQUIRE(has(got.lines[0], R"("error":"unavailable")"));
    REQUIRE(has(got.lines[0], "result store unavailable"));
    REQUIRE_FALSE(has(got.lines[0], "10.0.0.9"));
    REQUIRE_FALSE(has(got.lines[0], "secret"));
    // The next read opens the store afresh and is answered.
    REQUIRE(has(got.lines[1], R"("status":"pending")"));
    REQUIRE(opens == 2);
}

TEST_CASE("status_reader answers overloaded at once past max_waiting, and a hung store does not hold up exit",
          "[serve]") {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<void> entered;
    auto entered_future = entered.get_future();
    replies got;
    const auto start = std::chrono::steady_clock::now();
    {
        // The opener owns what it waits on: the thread is left behind at exit, still inside it.
        auto gate = std::make_shared<std::promise<void>>(std::move(entered));
        status_reader reader(
            [released, gate](pfo3::store::store_use) -> std::unique_ptr<pfo3::store::result_store> {
                gate->set_value();
                released.wait();
                throw pfo3::service_error("released", true);
            },
            1, 2);
        reader.read("busy", got.sink());  // the one thread is now stuck in the opener
        REQUIRE(entered_future.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
        reader.read("w1", got.sink());
        reader.read("w2", got.sink());
        reader.read("w3", got.sink());  // a third waiting read is one too many
        auto lines = got.wait_for(1);
        REQUIRE(lines.size() == 1);
        REQUIRE(has(lines[0], R"("error":"overloaded")"));
        REQUIRE(has(lines[0], R"("id":"w3")"));
    }
    // The destructor gave up on the stuck thread after its bounded wait.
    REQUIRE(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));
    {
        std::lock_guard lk(got.mu);
        REQUIRE(got.lines.size() == 1);  // the busy read's reply was dropped, never sent late
    }
    release.set_value();
}

TEST_CASE("status_reader cancels an accepted id with no record, announces it, and refuses one never accepted",
          "[serve]") {
    temp_dir dir;
    // SQLite: a cancel must write through a handle of its own (a reader's would refuse it).
    const std::string uri = "sqlite://" + (dir.path / "results.db").string();
    auto ids = std::make_shared<pfo3::serve::accepted_ids>(100);
    ids->add("queued-1");
    auto announced = std::make_shared<std::vector<std::string>>();
    auto mu = std::make_shared<std::mutex>();
    replies got;
    {
        status_reader reader([uri](pfo3::store::store_use use) { return pfo3::store::open_store(uri, use); }, 1, 16);
        reader.set_cancel_hooks({ids, [announced, mu](const std::string& id, const std::string& why) {
                                     std::lock_guard lk(*mu);
                                     announced->push_back(id + " " + why);
                                 }});
        reader.cancel("queued-1", "not wanted", got.sink());
        got.wait_for(1);
        reader.cancel("never-sent", "", got.sink());
        got.wait_for(2);
        reader.read("queued-1", got.sink());
        got.wait_for(3);
    }
    CHECK(has(got.lines[0], R"("status":"cancel_requested")"));
    CHECK(has(got.lines[1], R"("error":"not_found")"));
    CHECK(has(got.lines[2], R"("status":"cancel_requested")"));
    CHECK(has(got.lines[2], "cancel requested: not wanted"));
    std::lock_guard lk(*mu);
    CHECK(*announced == std::vector<std::string>{"queued-1 cancel requested: not wanted"});
}
