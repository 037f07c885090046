// pending_cancels() of the file and SQLite stores (PostgreSQL: postgres_store_test.cpp).
#include <catch2/catch.hpp>

#include "pending_cancels_check.hpp"
#include "pfo3/store/result_store.hpp"
#include "pfo3_test/temp_dir.hpp"

TEST_CASE("file store: pending cancels are the records in cancel_requested") {
    pfo3::test::temp_dir d;
    auto s = pfo3::store::open_store("file://" + d.path.string());
    pfo3::test::check_pending_cancels(*s);
}

TEST_CASE("sqlite store: pending cancels are the records in cancel_requested") {
    pfo3::test::temp_dir d;
    auto s = pfo3::store::open_store("sqlite://" + (d.path / "results.db").string());
    pfo3::test::check_pending_cancels(*s);
}

TEST_CASE("sqlite store: a reader sees the pending cancels a writer stored, and none before any") {
    pfo3::test::temp_dir d;
    const std::string uri = "sqlite://" + (d.path / "results.db").string();
    auto reader = pfo3::store::open_store(uri, pfo3::store::store_use::read);
    CHECK(reader->pending_cancels(10).empty());
    auto writer = pfo3::store::open_store(uri);
    pfo3::test::check_pending_cancels(*writer);
    CHECK(reader->pending_cancels(10).size() == 1);
}
