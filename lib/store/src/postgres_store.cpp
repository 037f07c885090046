#include "postgres_store.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "newest_records.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/text.hpp"
#include "upsert_rule.hpp"

namespace pfo3::store {

namespace {

// Any constant works as long as every pfo3 release uses the same one: it only keeps workers
// that start together from creating the tables at the same time.
constexpr long long schema_lock_key = 0x7066'6f33'7363'6831;  // "pfo3sch1"
constexpr int columns = 12;
// 11 parameters a row stays far below libpq's 65535; larger groups take several statements
// inside one explicit transaction.
constexpr std::size_t max_rows_per_statement = 1000;

constexpr std::string_view upsert_head =
    "INSERT INTO pfo3_tasks (id, type, payload, status, result, error, attempts, worker, "
    "submitted_at, started_at, finished_at, requeues) VALUES ";
constexpr std::string_view upsert_update =
    " ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, payload = EXCLUDED.payload, "
    "status = EXCLUDED.status, result = EXCLUDED.result, error = EXCLUDED.error, "
    "attempts = EXCLUDED.attempts, worker = EXCLUDED.worker, "
    "submitted_at = EXCLUDED.submitted_at, started_at = EXCLUDED.started_at, "
    "finished_at = EXCLUDED.finished_at, requeues = EXCLUDED.requeues, updated_at = now()";

// The end of the upsert: its update only where may_replace(stored row, new row) holds.
const std::string& upsert_tail() {
    static const std::string tail = std::string(upsert_update) + may_replace_where();
    return tail;
}

#define PFO3_PG_RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
constexpr const char* select_one =
    "SELECT type, payload::text, status, result::text, error, attempts, worker, "
    PFO3_PG_RFC3339("submitted_at") ", " PFO3_PG_RFC3339("started_at") ", "
    PFO3_PG_RFC3339("finished_at") ", requeues FROM pfo3_tasks WHERE id = $1";
#undef PFO3_PG_RFC3339

constexpr const char* create_schema_table =
    "CREATE TABLE pfo3_schema (version integer NOT NULL)";
constexpr const char* create_tasks_table =
    "CREATE TABLE pfo3_tasks ("
    " id text PRIMARY KEY,"
    " type text NOT NULL,"
    " payload jsonb,"
    " status text NOT NULL,"
    " result jsonb,"
    " error text,"
    " attempts integer NOT NULL,"
    " worker text,"
    " submitted_at timestamptz,"
    " started_at timestamptz,"
    " finished_at timestamptz,"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " requeues integer NOT NULL DEFAULT 0)";
// Schema 1 -> 2: the requeue count (a record of a later requeue replaces a final one).
constexpr const char* migrate_1_to_2 =
    "ALTER TABLE pfo3_tasks ADD COLUMN IF NOT EXISTS requeues integer NOT NULL DEFAULT 0";

// Not versioned: made when missing, by a role allowed to (the table's owner); the few records
// in cancel_requested are all it holds, so the writes pay nothing else for it.
constexpr const char* create_cancel_index =
    "CREATE INDEX IF NOT EXISTS pfo3_tasks_cancel_requested ON pfo3_tasks (id) WHERE status = 'cancel_requested'";
constexpr const char* select_pending_cancels =
    "SELECT id, error FROM pfo3_tasks WHERE status = 'cancel_requested' LIMIT $1";

// Text columns cannot hold NUL bytes and reject invalid UTF-8 (error 22021 would make the whole
// group unstorable), so such text is repaired the way the file store repairs it.
const char* text_param(const std::string& s, std::deque<std::string>& keep) {
    if (is_storable_text(s)) return s.c_str();
    return keep.emplace_back(storable_text(s)).c_str();
}

// jsonb rejects the escape \u0000 (22P05); it becomes U+FFFD. Backslashes only occur inside
// JSON strings, so walking escape pairs finds exactly the real \u0000 escapes.
const char* json_param(const std::string& s, std::deque<std::string>& keep) {
    if (s.empty()) return "null";
    const char* text = text_param(s, keep);
    std::string_view v(text);
    if (v.find("\\u0000") == std::string_view::npos) return text;
    std::string out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] != '\\' || i + 1 >= v.size()) {
            out += v[i];
            continue;
        }
        if (v.substr(i + 1, 5) == "u0000") {
            out += "\\ufffd";
            i += 5;
        } else {
            out += v[i];
            out += v[++i];
        }
    }
    return keep.emplace_back(std::move(out)).c_str();
}

const char* status_param(task_status s) {
    switch (s) {
    case task_status::done: return "done";
    case task_status::failed: return "failed";
    case task_status::dead: return "dead";
    case task_status::scheduled: return "scheduled";
    case task_status::cancel_requested: return "cancel_requested";
    case task_status::cancelled: return "cancelled";
    case task_status::pending: break;
    }
    return "pending";
}

const char* timestamp_param(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

std::string field(const PGresult* r, int row, int col) {
    if (PQgetisnull(r, row, col)) return {};
    return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

}  // namespace

postgres_store::postgres_store(std::string uri, std::chrono::milliseconds answer_timeout)
    : conn_(std::move(uri), answer_timeout) {
    std::lock_guard lock(mutex_);
    conn_.ensure_connected();
    create_schema();
}

postgres_store::~postgres_store() = default;

std::string postgres_store::describe() const { return conn_.masked(); }

void postgres_store::create_schema() {
    auto exec = [&](std::string_view op, const char* sql) { return conn_.run(op, sql); };
    int version = 0;
    try {
        exec("begin schema transaction", "BEGIN");
        std::string lock = "SELECT pg_advisory_xact_lock(" + std::to_string(schema_lock_key) + ")";
        exec("lock schema", lock.c_str());
        // Only what is missing is created, so a role without CREATE can use existing tables.
        auto found = exec("look up tables",
                          "SELECT to_regclass('pfo3_schema') IS NOT NULL, to_regclass('pfo3_tasks') IS NOT NULL, "
                          "to_regclass('pfo3_tasks_cancel_requested') IS NOT NULL");
        const bool index_missing = field(found.get(), 0, 2) != "t";
        if (field(found.get(), 0, 0) != "t") exec("create table pfo3_schema", create_schema_table);
        if (field(found.get(), 0, 1) != "t") exec("create table pfo3_tasks", create_tasks_table);
        auto v = exec("read schema version", "SELECT max(version) FROM pfo3_schema");
        auto text = field(v.get(), 0, 0);
        if (text.empty()) {
            std::string insert = "INSERT INTO pfo3_schema (version) VALUES (" + std::to_string(schema_version) + ")";
            exec("record schema version", insert.c_str());
            version = schema_version;
        } else {
            version = std::atoi(text.c_str());
        }
        if (version == 1) {
            exec("migrate schema 1 to 2", migrate_1_to_2);
            std::string insert = "INSERT INTO pfo3_schema (version) VALUES (2)";
            exec("record schema version", insert.c_str());
            PFO3_LOG(info, "result store schema upgraded from version 1 to 2 (column requeues)", {{"store", conn_.masked()}});
            version = 2;
        }
        if (index_missing) {
            // A role that may use the table but not index it still works: the listing is then
            // a scan of the table (decision 0015).
            exec("savepoint before the index", "SAVEPOINT pfo3_index");
            try {
                exec("create the index of pending cancels", create_cancel_index);
            } catch (const service_error& e) {
                exec("roll back the index", "ROLLBACK TO SAVEPOINT pfo3_index");
                PFO3_LOG(warn, "cannot create the index of pending cancels; listing them scans the table",
                         {{"store", conn_.masked()}, {"error", e.what()}});
            }
        }
        exec("commit schema", "COMMIT");
    } catch (const service_error&) {
        conn_.drop();  // also ends the transaction and its lock
        throw;
    }
    if (version > schema_version)
        throw service_error("postgresql store " + conn_.masked() + ": table pfo3_tasks has schema version " +
                                std::to_string(version) + ", newer than this pfo3 understands (" +
                                std::to_string(schema_version) + "): upgrade pfo3",
                            false);
    PFO3_LOG(debug, "result store schema ready", {{"store", conn_.masked()}, {"version", std::to_string(version)}});
}

void postgres_store::write_rows(std::span<const task_record* const> rows) {
    const std::string& tail = upsert_tail();
    std::string sql;
    sql.reserve(upsert_head.size() + tail.size() + rows.size() * 140);
    sql += upsert_head;
    std::vector<const char*> values;
    values.reserve(rows.size() * columns);
    std::deque<std::string> keep;  // repaired texts and numbers; a deque never moves them
    int n = 0;
    auto param = [&](std::string_view cast) {
        sql += '$';
        sql += std::to_string(++n);
        sql += cast;
    };
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const task_record& r = *rows[i];
        sql += i == 0 ? "(" : ", (";
        param("");
        sql += ", ";
        param("");
        sql += ", ";
        param("::jsonb");
        sql += ", ";
        param("");
        sql += ", ";
        param("::jsonb");
        sql += ", ";
        param("");
        sql += ", ";
        param("::integer");
        sql += ", ";
        param("");
        sql += ", ";
        param("::timestamptz");
        sql += ", ";
        param("::timestamptz");
        sql += ", ";
        param("::timestamptz");
        sql += ", ";
        param("::integer");
        sql += ')';
        values.push_back(r.id.c_str());
        values.push_back(text_param(r.type, keep));
        values.push_back(json_param(r.payload_json, keep));
        values.push_back(status_param(r.status));
        values.push_back(json_param(r.result_json, keep));
        values.push_back(r.error.empty() ? nullptr : text_param(r.error, keep));
        values.push_back(keep.emplace_back(std::to_string(r.attempts)).c_str());
        values.push_back(text_param(r.worker, keep));
        values.push_back(timestamp_param(r.submitted_at));
        values.push_back(timestamp_param(r.started_at));
        values.push_back(timestamp_param(r.finished_at));
        values.push_back(keep.emplace_back(std::to_string(r.requeues)).c_str());
    }
    sql += tail;
    const std::string refused_id = rows.size() == 1 ? rows[0]->id : std::string();
    auto r = conn_.run("upsert " + std::to_string(rows.size()) + " results", sql.c_str(), n, values.data(),
                       &refused_id);
    // Rows inserted or updated; the others were older than (or the same final record as) the
    // stored ones and were left as they are.
    const long written = std::atol(PQcmdTuples(r.get()));
    if (written < static_cast<long>(rows.size()))
        PFO3_LOG(debug, "postgresql store: kept stored records; the ones written were not newer",
                 {{"store", conn_.masked()}, {"kept", std::to_string(static_cast<long>(rows.size()) - written)},
                  {"of", std::to_string(rows.size())}});
}

void postgres_store::write(std::span<const task_record> records) {
    if (records.empty()) return;
    for (const auto& r : records)
        if (!is_valid_task_id(r.id))
            throw record_rejected("postgresql store " + conn_.masked() + ": invalid task id '" +
                                      json::valid_utf8(std::string_view(r.id).substr(0, 140)) + "'",
                                  r.id);
    // One row per id (one statement may not upsert a row twice), sorted by id so concurrent
    // writers lock rows in one order (no deadlocks).
    const std::vector<const task_record*> unique = newest_per_id(records);

    std::lock_guard lock(mutex_);
    conn_.with_retry([&] {
        std::span<const task_record* const> all(unique);
        if (all.size() <= max_rows_per_statement) {
            // One statement outside a transaction block is its own transaction: when the
            // result arrives, it has committed (or failed as a whole).
            write_rows(all);
            return;
        }
        conn_.run("begin", "BEGIN");
        for (std::size_t at = 0; at < all.size(); at += max_rows_per_statement)
            write_rows(all.subspan(at, std::min(max_rows_per_statement, all.size() - at)));
        const std::string unknown_record;  // a deferred constraint does not say which
        conn_.run("commit " + std::to_string(all.size()) + " results", "COMMIT", 0, nullptr, &unknown_record);
    });
}

std::vector<pending_cancel> postgres_store::pending_cancels(std::size_t limit) {
    const std::string max = std::to_string(limit);
    std::lock_guard lock(mutex_);
    return conn_.with_retry([&] {
        const char* values[] = {max.c_str()};
        auto r = conn_.run("list pending cancels", select_pending_cancels, 1, values);
        std::vector<pending_cancel> out;
        const int rows = PQntuples(r.get());
        out.reserve(static_cast<std::size_t>(rows));
        for (int i = 0; i < rows; ++i) out.push_back({field(r.get(), i, 0), field(r.get(), i, 1)});
        return out;
    });
}

std::optional<task_record> postgres_store::read(std::string_view id) {
    if (!is_valid_task_id(id)) return std::nullopt;  // no such id can ever be stored
    const std::string key(id);
    std::lock_guard lock(mutex_);
    return conn_.with_retry([&]() -> std::optional<task_record> {
        const char* values[] = {key.c_str()};
        auto r = conn_.run("read result", select_one, 1, values);
        if (PQntuples(r.get()) == 0) return std::nullopt;
        task_record out;
        out.id = key;
        out.type = field(r.get(), 0, 0);
        out.payload_json = field(r.get(), 0, 1);
        if (out.payload_json.empty()) out.payload_json = "null";
        auto status = field(r.get(), 0, 2);
        auto parsed = parse_task_status(status);
        if (!parsed || *parsed == task_status::pending)
            throw service_error("postgresql store " + conn_.masked() + ": corrupt record '" + key +
                                    "': status '" + json::valid_utf8(status) + "'",
                                false);
        out.status = *parsed;
        out.result_json = field(r.get(), 0, 3);
        if (out.result_json.empty()) out.result_json = "null";
        out.error = field(r.get(), 0, 4);
        out.attempts = std::atoi(field(r.get(), 0, 5).c_str());
        out.worker = field(r.get(), 0, 6);
        out.submitted_at = field(r.get(), 0, 7);
        out.started_at = field(r.get(), 0, 8);
        out.finished_at = field(r.get(), 0, 9);
        out.requeues = std::atoi(field(r.get(), 0, 10).c_str());
        return out;
    });
}

}  // namespace pfo3::store
