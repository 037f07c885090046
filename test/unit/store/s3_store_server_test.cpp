// The S3 store against a real S3-compatible server (s3rver, which checks signatures): runs
// only when PFO3_TEST_S3_ENDPOINT names one (test/run starts it and sets the bucket and keys).
// Each test writes under a prefix of its own.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "pending_cancels_check.hpp"
#include "pfo3/core/error.hpp"
#include "s3_store.hpp"

using pfo3::task_record;
using pfo3::task_status;

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

// Read before any test runs: the fake-server tests of s3_store_test.cpp set other keys for the
// whole process.
const std::string endpoint = env("PFO3_TEST_S3_ENDPOINT");
const std::string bucket = env("PFO3_TEST_S3_BUCKET").empty() ? "pfo3-test" : env("PFO3_TEST_S3_BUCKET");
const pfo3::store::s3_credentials keys{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), "", false};

std::unique_ptr<pfo3::store::s3_store> open_server() {
    std::random_device rd;
    const std::string prefix = "unit-" + std::to_string(rd() % 1000000000u) + "-" + std::to_string(::getpid());
    return std::make_unique<pfo3::store::s3_store>(
        pfo3::store::s3_location::parse("s3://" + bucket + "/" + prefix + "?endpoint=" + endpoint), keys);
}

task_record record(std::string id, std::string result, task_status status, int attempts) {
    task_record r;
    r.id = std::move(id);
    r.type = "echo";
    r.payload_json = "[1]";
    r.status = status;
    r.result_json = std::move(result);
    r.attempts = attempts;
    r.worker = "host:1";
    r.submitted_at = "2024-01-01T00:00:00.000Z";
    return r;
}

}  // namespace

TEST_CASE("s3 store on a real server: pending cancels are listed by their markers", "[s3_store]") {
    if (endpoint.empty()) {
        WARN("PFO3_TEST_S3_ENDPOINT not set: skipped");
        return;
    }
    auto store = open_server();
    pfo3::test::check_pending_cancels(*store);
}

TEST_CASE("s3 store on a real server: a failed record never goes over a newer one", "[s3_store]") {
    if (endpoint.empty()) {
        WARN("PFO3_TEST_S3_ENDPOINT not set: skipped");
        return;
    }
    auto store = open_server();
    using st = task_status;
    auto stored_after = [&](const task_record& first, const task_record& second) {
        store->write({&first, 1});
        store->write({&second, 1});
        auto got = store->read(first.id);
        REQUIRE(got);
        return *got;
    };
    auto got = stored_after(record("late", "2", st::done, 2), record("late", "null", st::failed, 1));
    CHECK(got.status == st::done);
    CHECK(got.attempts == 2);
    got = stored_after(record("older", "null", st::failed, 2), record("older", "null", st::failed, 1));
    CHECK(got.attempts == 2);
    got = stored_after(record("retried", "null", st::failed, 1), record("retried", "null", st::failed, 2));
    CHECK(got.attempts == 2);
    got = stored_after(record("dead", "null", st::dead, 5), record("dead", "null", st::failed, 6));
    CHECK(got.status == st::dead);
    got = stored_after(record("on", "null", st::failed, 3), record("on", "7", st::done, 3));
    CHECK(got.status == st::done);
    CHECK(got.result_json == "7");
}

TEST_CASE("s3 store on a real server: a group holding one id twice stores the newest record", "[s3_store]") {
    if (endpoint.empty()) {
        WARN("PFO3_TEST_S3_ENDPOINT not set: skipped");
        return;
    }
    auto store = open_server();
    // A retry's done with its attempt's late failed, and the reverse order: the done stays.
    for (int round = 0; round < 2; ++round) {
        const std::string id = "g" + std::to_string(round);
        std::vector<task_record> group{record(id, "2", task_status::done, 2), record("other", "1", task_status::done, 1)};
        auto late = record(id, "null", task_status::failed, 1);
        group.insert(round == 0 ? group.end() : group.begin(), late);
        store->write(group);
        auto got = store->read(id);
        REQUIRE(got);
        CHECK(got->status == task_status::done);
        CHECK(got->attempts == 2);
    }
}
