// postgres_store against a real server: runs only when PFO3_TEST_POSTGRES_URL names one
// (test/run starts a throwaway cluster and sets it). Each test works in a schema of its own.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <stop_token>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pending_cancels_check.hpp"
#include "sql_test_record.hpp"
#include "store_contract.hpp"
#include "postgres_store.hpp"

using pfo3::task_record;
using pfo3::task_status;
using pfo3::test::record;
using pfo3::store::postgres_store;

namespace {

struct pipe_closer {
    void operator()(FILE* f) const noexcept { ::pclose(f); }
};

// psql against the test server; returns its output (unaligned, tuples only).
std::string psql(const std::string& url, const std::string& sql) {
    std::string cmd = "psql -X -q -tA -v ON_ERROR_STOP=1 '" + url + "' -c \"" + sql + "\" 2>&1";
    std::unique_ptr<FILE, pipe_closer> p(::popen(cmd.c_str(), "r"));
    REQUIRE(p);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

// A schema created for one test and dropped after it; uri() points the store at it.
struct test_schema {
    std::string admin;
    std::string name;
    explicit test_schema(const char* url) : admin(url) {
        std::random_device rd;
        name = "t_unit_" + std::to_string(rd() % 1000000000u) + "_" + std::to_string(::getpid());
        REQUIRE(psql(admin, "CREATE SCHEMA " + name) == "");
    }
    ~test_schema() { psql(admin, "DROP SCHEMA " + name + " CASCADE"); }
    std::string uri() const {
        return admin + (admin.find('?') == std::string::npos ? "?" : "&") +
               "options=-csearch_path%3D" + name;
    }
    std::string sql(const std::string& q) const { return psql(admin, "SET search_path TO " + name + "; " + q); }
};


const char* server() { return std::getenv("PFO3_TEST_POSTGRES_URL"); }
// The test cluster's directory (test/run sets it): tests that pause the server need it.
const char* cluster() { return std::getenv("PFO3_TEST_POSTGRES_DIR"); }

// The whole cluster stopped with SIGSTOP for the object's life, or `at_most` (so that a
// store that waits forever makes a failing test, not a hung one): the kernel still accepts
// connections and buffers queries, nothing answers them, like a server that hangs.
class frozen_cluster {
public:
    frozen_cluster(const std::string& dir, std::chrono::seconds at_most) {
        std::ifstream pidfile(dir + "/data/postmaster.pid");
        int postmaster = 0;
        REQUIRE(pidfile >> postmaster);
        // The postmaster first, so that no backend forked meanwhile escapes the freeze.
        REQUIRE(::kill(postmaster, SIGSTOP) == 0);
        stopped_.push_back(postmaster);
        const std::string self = std::to_string(postmaster);
        std::ifstream children("/proc/" + self + "/task/" + self + "/children");
        for (int child = 0; children >> child;)
            if (::kill(child, SIGSTOP) == 0) stopped_.push_back(child);
        watchdog_ = std::jthread([this, at_most](std::stop_token stop) {
            std::mutex m;
            std::unique_lock lock(m);
            std::condition_variable_any().wait_for(lock, stop, at_most, [] { return false; });
            thaw();
        });
    }
    ~frozen_cluster() {
        watchdog_.request_stop();
        watchdog_.join();  // it thaws on its way out
    }
    frozen_cluster(const frozen_cluster&) = delete;
    frozen_cluster& operator=(const frozen_cluster&) = delete;

private:
    void thaw() {
        for (auto it = stopped_.rbegin(); it != stopped_.rend(); ++it) ::kill(*it, SIGCONT);
    }

    std::vector<int> stopped_;
    std::jthread watchdog_;
};

}  // namespace

TEST_CASE("postgres store: a record reads back as written") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    auto r = record("a-1");
    r.status = task_status::failed;
    r.error = "exit status 3";
    r.attempts = 2;
    store.write(std::span(&r, 1));
    auto got = store.read("a-1");
    REQUIRE(got);
    CHECK(got->id == "a-1");
    CHECK(got->type == "echo");
    CHECK(got->payload_json == R"({"n": 1, "s": "x"})");  // jsonb's canonical text
    CHECK(got->status == task_status::failed);
    CHECK(got->result_json == "42");
    CHECK(got->error == "exit status 3");
    CHECK(got->attempts == 2);
    CHECK(got->worker == "host:1");
    CHECK(got->submitted_at == r.submitted_at);
    CHECK(got->started_at == r.started_at);
    CHECK(got->finished_at == r.finished_at);
    CHECK_FALSE(store.read("missing"));
    CHECK(store.describe().find("***") != std::string::npos);
    CHECK(s.sql("SELECT version FROM pfo3_schema") == "2");
}

TEST_CASE("postgres store: pending cancels are the records in cancel_requested, found by an index") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    pfo3::test::check_pending_cancels(store);
    CHECK(s.sql("SELECT count(*) FROM pg_indexes WHERE indexname = 'pfo3_tasks_cancel_requested' AND schemaname = '" +
                s.name + "'") == "1");
}

TEST_CASE("postgres store: a schema 1 table is upgraded in place to 2, its rows kept") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    // What a release with schema 1 created.
    s.sql("CREATE TABLE pfo3_schema (version integer NOT NULL); INSERT INTO pfo3_schema VALUES (1); "
          "CREATE TABLE pfo3_tasks (id text PRIMARY KEY, type text NOT NULL, payload jsonb, status text NOT NULL, "
          "result jsonb, error text, attempts integer NOT NULL, worker text, submitted_at timestamptz, "
          "started_at timestamptz, finished_at timestamptz, updated_at timestamptz NOT NULL DEFAULT now()); "
          "INSERT INTO pfo3_tasks (id, type, status, attempts) VALUES ('old', 'echo', 'dead', 3)");
    postgres_store store(s.uri());
    CHECK(s.sql("SELECT max(version) FROM pfo3_schema") == "2");
    auto old = store.read("old");
    REQUIRE(old);
    CHECK(old->status == task_status::dead);
    CHECK(old->requeues == 0);
    auto again = record("old", "1");
    again.requeues = 1;  // the operator requeued it
    store.write(std::span(&again, 1));
    CHECK(store.read("old")->status == task_status::done);
    CHECK(store.read("old")->requeues == 1);
}

TEST_CASE("postgres store: a rewrite replaces the row, never adds one") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    auto first = record("same", "1", task_status::failed);
    auto second = record("same", "2");
    store.write(std::span(&first, 1));
    store.write(std::span(&second, 1));
    // The same id twice in one group: the later one wins, as if written one after the other.
    std::vector<task_record> group{record("g", "\"old\"", task_status::failed), record("h"),
                                   record("g", "\"new\"", task_status::failed)};
    store.write(group);
    CHECK(store.read("same")->result_json == "2");
    CHECK(store.read("g")->result_json == "\"new\"");
    CHECK(s.sql("SELECT count(*), count(DISTINCT id) FROM pfo3_tasks") == "3|3");
}

TEST_CASE("postgres store: groups larger than one statement commit together") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    std::vector<task_record> group;
    for (int i = 0; i < 2500; ++i) group.push_back(record("id-" + std::to_string(i), std::to_string(i)));
    store.write(group);
    CHECK(s.sql("SELECT count(*) FROM pfo3_tasks") == "2500");
    CHECK(store.read("id-2499")->result_json == "2499");
    // A bad record in a large group aborts the whole transaction: nothing of it is stored.
    std::vector<task_record> bad;
    for (int i = 0; i < 1500; ++i) bad.push_back(record("bad-" + std::to_string(i)));
    bad[1200].result_json = "{not json";
    try {
        store.write(bad);
        FAIL("no error");
    } catch (const pfo3::record_rejected& e) {
        CHECK_FALSE(e.retryable());
        CHECK(std::string(e.what()).find("22P02") != std::string::npos);
        CHECK(e.id().empty());  // the server does not say which row of the statement
    }
    CHECK(s.sql("SELECT count(*) FROM pfo3_tasks WHERE id LIKE 'bad-%'") == "0");
    // And the store carries on.
    auto after = record("after");
    store.write(std::span(&after, 1));
    CHECK(store.read("after"));
}

TEST_CASE("postgres store: any JSON and awkward text are stored") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    auto r = record("odd", R"({"nul":"a\u0000b","esc":"\\u0000"})");
    r.payload_json = R"("just a string")";
    static constexpr char awkward[] = "nul\0byte and bad \xff utf-8";
    r.error = std::string(awkward, sizeof awkward - 1);
    r.started_at.clear();
    store.write(std::span(&r, 1));
    auto got = store.read("odd");
    REQUIRE(got);
    CHECK(got->payload_json == R"("just a string")");
    CHECK(got->result_json == "{\"esc\": \"\\\\u0000\", \"nul\": \"a\xEF\xBF\xBD" "b\"}");
    CHECK(got->error == "nul\xEF\xBF\xBD" "byte and bad \xEF\xBF\xBD utf-8");
    CHECK(got->started_at.empty());
    CHECK(s.sql("SELECT started_at IS NULL FROM pfo3_tasks") == "t");
}

TEST_CASE("postgres store: a record never goes backwards") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    using st = task_status;
    auto stored_after = [&](const std::string& id, const task_record& first, const task_record& second) {
        store.write(std::span(&first, 1));
        store.write(std::span(&second, 1));
        auto got = store.read(id);
        REQUIRE(got);
        return *got;
    };
    auto got = stored_after("late", record("late", "2", st::done, 2), record("late", "null", st::failed, 1));
    CHECK(got.status == st::done);
    CHECK(got.attempts == 2);
    got = stored_after("twice", record("twice", "\"first\""), record("twice", "\"second\""));
    CHECK(got.result_json == "\"first\"");
    got = stored_after("retried", record("retried", "1", st::failed, 1), record("retried", "2", st::failed, 2));
    CHECK(got.status == st::failed);
    CHECK(got.attempts == 2);
    got = stored_after("dead", record("dead", "null", st::dead, 5), record("dead", "1", st::done, 6));
    CHECK(got.status == st::dead);
    CHECK(got.attempts == 5);
    got = stored_after("on", record("on", "null", st::failed, 3), record("on", "7", st::done, 3));
    CHECK(got.status == st::done);  // the same attempt, further along
    // A group with a retry's done and its attempt's late failed keeps the done.
    std::vector<task_record> group{record("g", "2", st::done, 2), record("other"), record("g", "null", st::failed, 1)};
    store.write(group);
    CHECK(store.read("g")->status == st::done);
    CHECK(store.read("g")->attempts == 2);
    CHECK(s.sql("SELECT count(*) FROM pfo3_tasks") == "7");
    // A requeue starts a new run: its record replaces the dead one, and a stale record of the
    // run before cannot come back over it.
    auto requeued = record("dead", "3", st::done, 1);
    requeued.requeues = 1;
    got = stored_after("dead", requeued, record("dead", "null", st::failed, 6));
    CHECK(got.status == st::done);
    CHECK(got.requeues == 1);
    CHECK(got.attempts == 1);
}

TEST_CASE("postgres store: the upsert keeps every order may_replace keeps, scheduled and cancel included") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    pfo3::test::check_moves_only_as_may_replace(store);
}

TEST_CASE("postgres store: a record the server refuses is rejected as such, and the connection carries on") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    // An application name of its own, to find the store's session among the server's.
    std::random_device rd;
    const std::string app = "pfo3_rejects_" + std::to_string(rd() % 1000000000u);
    postgres_store store(s.uri() + "&application_name=" + app);
    auto session = [&] { return psql(s.admin, "SELECT pid FROM pg_stat_activity WHERE application_name = '" + app + "'"); };
    const std::string pid = session();
    REQUIRE_FALSE(pid.empty());

    // Values valid for pfo3 that the column types refuse: a JSON number numeric cannot hold
    // (22003) and a submitted_at from a foreign producer that is no time (22007).
    auto huge = record("huge-number");
    huge.payload_json = "1e-20000";
    auto when = record("no-time");
    when.submitted_at = "yesterday at noon";
    for (const auto* bad : {&huge, &when}) {
        INFO(bad->id);
        try {
            store.write(std::span(bad, 1));
            FAIL("no error");
        } catch (const pfo3::record_rejected& e) {
            CHECK(e.id() == bad->id);
            CHECK_FALSE(e.retryable());
            CHECK_THAT(e.what(), Catch::Contains("SQLSTATE 22"));
        }
        CHECK_FALSE(store.read(bad->id));
    }
    // In a group the server does not say which record it refused.
    std::vector<task_record> group{record("fine-1"), when, record("fine-2")};
    try {
        store.write(group);
        FAIL("no error");
    } catch (const pfo3::record_rejected& e) {
        CHECK(e.id().empty());
    }
    CHECK_FALSE(store.read("fine-1"));
    // The next write goes through on the same session.
    auto after = record("after");
    store.write(std::span(&after, 1));
    CHECK(store.read("after"));
    CHECK(session() == pid);
}

TEST_CASE("postgres store: quotes, backslashes, braces, commas and the word NULL come back as written") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    // Text that means something in SQL, array or JSON literals (quotes, backslashes, braces,
    // commas, blanks, the word NULL, empty text) comes back unchanged from a group of rows.
    const std::string texts[] = {"NULL", "", "{a,b}", "say \"hi\"", "back\\slash\\", "  padded  ", "a,b",
                                 "line\nbreak", "null", "\\\""};
    std::vector<task_record> group;
    for (std::size_t i = 0; i < std::size(texts); ++i) {
        auto r = record("awk-" + std::to_string(i), R"({"t":"q\"uote\\ {x,y}"})");
        r.type = texts[i].empty() ? "echo" : texts[i];
        r.error = texts[i];
        r.worker = texts[i];
        r.payload_json = R"(["{}", ",", "NULL", "\\\""])";
        group.push_back(r);
    }
    store.write(group);
    for (std::size_t i = 0; i < std::size(texts); ++i) {
        INFO("text " << i << ": [" << texts[i] << "]");
        auto got = store.read("awk-" + std::to_string(i));
        REQUIRE(got);
        CHECK(got->type == (texts[i].empty() ? "echo" : texts[i]));
        CHECK(got->error == texts[i]);
        CHECK(got->worker == texts[i]);
        CHECK(got->result_json == R"({"t": "q\"uote\\ {x,y}"})");
        CHECK(got->payload_json == R"(["{}", ",", "NULL", "\\\""])");
    }
    // An empty error is no error (SQL NULL), not the text "NULL" or "".
    CHECK(s.sql("SELECT count(*) FROM pfo3_tasks WHERE error IS NULL") == "1");
}

TEST_CASE("postgres store: an invalid id is refused and never found") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    pfo3::test::check_invalid_id_refused(store);
}

TEST_CASE("postgres store: a schema newer than this release is refused") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    { postgres_store first(s.uri()); }
    s.sql("UPDATE pfo3_schema SET version = 3");
    try {
        postgres_store second(s.uri());
        FAIL("no error");
    } catch (const pfo3::service_error& e) {
        CHECK_FALSE(e.retryable());
        CHECK(std::string(e.what()).find("schema version 3") != std::string::npos);
    }
}

TEST_CASE("postgres store: workers starting together create the schema once") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 6; ++i)
        threads.emplace_back([&] {
            try {
                postgres_store store(s.uri());
            } catch (const std::exception&) {
                ++failures;
            }
        });
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    CHECK(s.sql("SELECT count(*) FROM pfo3_schema") == "1");
}

TEST_CASE("postgres store: one store serves many threads") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                try {
                    auto r = record("t" + std::to_string(t) + "-" + std::to_string(i));
                    store.write(std::span(&r, 1));
                    if (!store.read(r.id)) ++failures;
                } catch (const std::exception&) {
                    ++failures;
                }
            }
        });
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    CHECK(s.sql("SELECT count(*) FROM pfo3_tasks") == "200");
}

TEST_CASE("postgres store: a connection the server dropped is replaced on the next call") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    test_schema s(server());
    postgres_store store(s.uri());
    auto r = record("before");
    store.write(std::span(&r, 1));
    // Ends the store's session from the server side, as a restart or an idle timeout would.
    REQUIRE(psql(s.admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                          "WHERE application_name = 'pfo3' AND pid <> pg_backend_pid()") != "0");
    auto after = record("after");
    store.write(std::span(&after, 1));
    CHECK(store.read("after"));
}

TEST_CASE("postgres store: refusals at connect time are not retryable and name the cause") {
    if (!server()) {
        WARN("PFO3_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    std::string url = server();
    auto at = url.find('@');
    auto colon = url.rfind(':', at);
    REQUIRE((at != std::string::npos && colon != std::string::npos));
    struct refusal {
        std::string uri;
        std::string why;
    };
    auto slash = url.find('/', at);
    refusal cases[] = {
        {url.substr(0, colon + 1) + "wrong-secret-4711" + url.substr(at), "28P01"},
        {url.substr(0, slash) + "/t_no_such_database", "3D000"},
        {url.substr(0, colon) + url.substr(at), "no password supplied"},
    };
    for (const auto& c : cases) {
        INFO(c.why);
        try {
            postgres_store store(c.uri);
            FAIL("no error");
        } catch (const pfo3::service_error& e) {
            std::string what = e.what();
            CHECK_FALSE(e.retryable());
            CHECK(what.find(c.why) != std::string::npos);
            CHECK(what.find("wrong-secret-4711") == std::string::npos);
            CHECK(what.find("postgresql store postgresql://") == 0);
        }
    }
}

TEST_CASE("postgres store: a server that stops answering costs a call its deadline, not forever") {
    if (!server() || !cluster()) {
        WARN("PFO3_TEST_POSTGRES_URL or PFO3_TEST_POSTGRES_DIR not set: skipped");
        return;
    }
    using namespace std::chrono_literals;
    test_schema s(server());
    postgres_store store(s.uri(), 1500ms);
    auto before = record("before-the-freeze");
    store.write(std::span(&before, 1));  // connected, schema made: the next call only upserts

    auto during = record("during-the-freeze");
    {
        frozen_cluster frozen(cluster(), 20s);
        const auto t0 = std::chrono::steady_clock::now();
        try {
            store.write(std::span(&during, 1));
            FAIL("a write to a stopped server returned");
        } catch (const pfo3::service_error& e) {
            const std::string what = e.what();
            INFO(what);
            CHECK(e.retryable());  // the caller keeps the deliveries unacked and tries again
            CHECK(what.find("upsert 1 results: no answer within 1500 ms") != std::string::npos);
        }
        const auto waited = std::chrono::steady_clock::now() - t0;
        CHECK(waited >= 1400ms);
        CHECK(waited < 15s);  // without the deadline: until the freeze ends (20 s)
    }
    // Answering again: the next call gets a new connection, and the retried write lands.
    store.write(std::span(&during, 1));
    CHECK(store.read("during-the-freeze"));
    CHECK(store.read("before-the-freeze"));
}
