// Seeing results arrive in a local file store with inotify, and waiting for a run's ids there.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "pfo3/core/error.hpp"
#include "results.hpp"
#include "store_watch.hpp"
#include "take_until.hpp"
#include "pfo3_test/temp_dir.hpp"

using namespace pfo3::bench;
namespace fs = std::filesystem;
using std::chrono::steady_clock;
using pfo3::bench::test::take_until;

namespace {

using pfo3::test::temp_dir;

// The way the file store publishes a record: a flushed temp file renamed into place.
void store_record(const fs::path& dir, const std::string& id) {
    const auto tmp = dir / ("." + id + ".json.tmp");
    std::ofstream(tmp) << "{}";
    fs::rename(tmp, dir / (id + ".json"));
}


}  // namespace

TEST_CASE("a record renamed into the watched directory is seen once, with a time after the start") {
    temp_dir d;
    const auto start = steady_clock::now();
    store_watch w(d.path.string(), start);
    store_record(d.path, "0190a1b2-0000-7000-8000-000000000001");
    std::ofstream(d.path / "notes.txt") << "not a record";
    const auto got = take_until(w, 1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].id == "0190a1b2-0000-7000-8000-000000000001");
    CHECK(got[0].at_ns >= 0);
    CHECK(got[0].at_ns <= std::chrono::duration_cast<std::chrono::nanoseconds>(steady_clock::now() - start).count());
    CHECK(w.take().empty());  // the temp file and the other file were not records
    CHECK_FALSE(w.overflowed());
    CHECK(w.dir() == d.path.string());
}

TEST_CASE("a directory that does not exist cannot be watched, and the error names it") {
    temp_dir d;
    const auto missing = (d.path / "nope").string();
    try {
        store_watch w(missing, steady_clock::now());
        FAIL("watched a missing directory");
    } catch (const pfo3::service_error& e) {
        CHECK(std::string(e.what()).find(missing) != std::string::npos);
    }
}

TEST_CASE("waiting in the store finds the results that arrive and gives up on the rest at the deadline") {
    temp_dir d;
    store_watch w(d.path.string(), steady_clock::now());
    load_result load;
    load.start = steady_clock::now();
    load.ids = {"a1", "b2", "c3"};
    load.id_submit_ns = {0, 0, 0};
    store_record(d.path, "c3");
    store_record(d.path, "a1");
    store_record(d.path, "zz");  // another run's record
    const auto seen = wait_in_store(w, load, std::chrono::milliseconds(1500));
    REQUIRE(seen.stored_ns.size() == 3);
    CHECK(seen.stored_ns[0] >= 0);
    CHECK(seen.stored_ns[1] == -1);
    CHECK(seen.stored_ns[2] >= 0);
    CHECK_FALSE(seen.late_detection);
}
