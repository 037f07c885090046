#include "postgres_store.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "newest_records.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/text.hpp"
#include "pg_uri.hpp"

namespace pfo3::store {

namespace {

struct conn_deleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
struct conninfo_deleter {
    void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};
using conn_ptr = std::unique_ptr<PGconn, conn_deleter>;
using result_ptr = std::unique_ptr<PGresult, result_deleter>;
using conninfo_ptr = std::unique_ptr<PQconninfoOption, conninfo_deleter>;

// Any constant works as long as every pfo3 release uses the same one: it only keeps workers
// that start together from creating the tables at the same time.
constexpr long long schema_lock_key = 0x7066'6f33'7363'6831;  // "pfo3sch1"
constexpr int columns = 11;
// 11 parameters a row stays far below libpq's 65535; larger groups take several statements
// inside one explicit transaction.
constexpr std::size_t max_rows_per_statement = 1000;
constexpr int default_connect_timeout_s = 10;

constexpr std::string_view upsert_head =
    "INSERT INTO pfo3_tasks (id, type, payload, status, result, error, attempts, worker, "
    "submitted_at, started_at, finished_at) VALUES ";
constexpr std::string_view upsert_update =
    " ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, payload = EXCLUDED.payload, "
    "status = EXCLUDED.status, result = EXCLUDED.result, error = EXCLUDED.error, "
    "attempts = EXCLUDED.attempts, worker = EXCLUDED.worker, "
    "submitted_at = EXCLUDED.submitted_at, started_at = EXCLUDED.started_at, "
    "finished_at = EXCLUDED.finished_at, updated_at = now()";

// The end of the upsert: its update only where may_replace(stored row, new row) holds.
// Written out from may_replace() itself rather than by hand, so the two never differ:
//   WHERE (EXCLUDED.attempts > pfo3_tasks.attempts AND pfo3_tasks.status IN ('pending', 'failed'))
//      OR (EXCLUDED.attempts = pfo3_tasks.attempts AND (pfo3_tasks.status, EXCLUDED.status) IN
//          (('pending', 'pending'), ..., ('failed', 'done'), ('failed', 'failed'), ('failed', 'dead')))
// i.e. never over a final row; a later attempt, or the same one at least as far along. A row
// whose status pfo3 does not know is never updated.
const std::string& upsert_tail() {
    static const std::string tail = [] {
        constexpr task_status all[] = {task_status::pending, task_status::done, task_status::failed,
                                       task_status::dead};
        auto row = [](task_status s, int attempts) {
            task_record r;
            r.status = s;
            r.attempts = attempts;
            return r;
        };
        auto quoted = [](task_status s) { return "'" + std::string(to_string(s)) + "'"; };
        std::string later, same;
        for (auto stored : all) {
            // may_replace depends only on the statuses and on how the attempts compare.
            if (may_replace(row(stored, 1), row(task_status::failed, 2)))
                later += (later.empty() ? "" : ", ") + quoted(stored);
            for (auto incoming : all)
                if (may_replace(row(stored, 1), row(incoming, 1)))
                    same += (same.empty() ? "(" : ", (") + quoted(stored) + ", " + quoted(incoming) + ")";
        }
        std::string out(upsert_update);
        out += " WHERE (EXCLUDED.attempts > pfo3_tasks.attempts AND pfo3_tasks.status IN (" + later + "))";
        out += " OR (EXCLUDED.attempts = pfo3_tasks.attempts AND (pfo3_tasks.status, EXCLUDED.status) IN (" + same + "))";
        return out;
    }();
    return tail;
}

#define PFO3_PG_RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
constexpr const char* select_one =
    "SELECT type, payload::text, status, result::text, error, attempts, worker, "
    PFO3_PG_RFC3339("submitted_at") ", " PFO3_PG_RFC3339("started_at") ", "
    PFO3_PG_RFC3339("finished_at") " FROM pfo3_tasks WHERE id = $1";
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
    " updated_at timestamptz NOT NULL DEFAULT now())";

// The password as written in the URI (user:PASSWORD@ or password=PASSWORD), so messages that
// quote parts of the URI (libpq's parse errors do) can be scrubbed.
std::string uri_password(std::string_view uri) {
    std::string out;
    auto scheme = uri.find("://");
    if (scheme != std::string_view::npos) {
        auto auth_begin = scheme + 3;
        auto auth_end = uri.find_first_of("/?#", auth_begin);
        if (auth_end == std::string_view::npos) auth_end = uri.size();
        auto at = uri.rfind('@', auth_end);
        if (at != std::string_view::npos && at >= auth_begin) {
            auto colon = uri.find(':', auth_begin);
            if (colon != std::string_view::npos && colon < at) out = uri.substr(colon + 1, at - colon - 1);
        }
    }
    auto p = uri.find("password=");
    if (out.empty() && p != std::string_view::npos) {
        auto end = uri.find('&', p);
        out = uri.substr(p + 9, end == std::string_view::npos ? std::string_view::npos : end - p - 9);
    }
    return out;
}

// libpq messages span lines ("…\nDETAIL: …\n"); a log field and an error read better on one.
std::string one_line(std::string_view msg) {
    std::string out;
    for (char ch : msg) {
        if (ch == '\n' || ch == '\r') {
            if (!out.empty() && !out.ends_with("; ")) out += "; ";
        } else if (ch == '\t') {
            if (!out.ends_with(' ')) out += ' ';
        } else {
            out += ch;
        }
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
    return out;
}

// A connection message written verbosely, reduced to the default wording.
std::string plain_connect_message(std::string_view msg, std::string_view sqlstate) {
    std::string out;
    std::size_t at = 0;
    while (at < msg.size()) {
        auto end = msg.find('\n', at);
        if (end == std::string_view::npos) end = msg.size();
        auto line = msg.substr(at, end - at);
        if (!line.starts_with("LOCATION:")) {
            out.append(line);
            out += '\n';
        }
        at = end + 1;
    }
    if (!sqlstate.empty()) {
        std::string token = std::string(sqlstate) + ": ";
        auto p = out.find(token);
        if (p != std::string::npos) out.erase(p, token.size());
    }
    return out;
}

// Text columns cannot hold NUL bytes and reject invalid UTF-8 (error 22021 would make the whole
// group unstorable), so such text is repaired the way the file store repairs it.
const char* text_param(const std::string& s, std::deque<std::string>& keep) {
    if (s.find('\0') == std::string::npos && json::is_valid_utf8(s)) return s.c_str();
    std::string fixed = json::valid_utf8(s);
    std::string out;
    out.reserve(fixed.size());
    for (char ch : fixed) {
        if (ch == '\0') out += "\xEF\xBF\xBD";
        else out += ch;
    }
    return keep.emplace_back(std::move(out)).c_str();
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

// Short enough passwords would scrub ordinary words; those are never echoed by libpq anyway
// (only whole URI tokens are).
void scrub(std::string& msg, const std::string& password) {
    if (password.size() < 4) return;
    for (auto p = msg.find(password); p != std::string::npos; p = msg.find(password, p))
        msg.replace(p, password.size(), "***");
}

const char* status_param(task_status s) {
    switch (s) {
    case task_status::done: return "done";
    case task_status::failed: return "failed";
    case task_status::dead: return "dead";
    case task_status::pending: break;
    }
    return "pending";
}

const char* timestamp_param(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

std::string field(const PGresult* r, int row, int col) {
    if (PQgetisnull(r, row, col)) return {};
    return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

enum class socket_wait { ready, not_yet, deadline_passed, failed };

// One wait of libpq's socket for `events`, bounded by `deadline` (connecting and every
// statement share it). not_yet: interrupted by a signal, wait again; failed: errno says why.
socket_wait wait_for_socket(int fd, short events, std::chrono::steady_clock::time_point deadline, short& revents) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return socket_wait::deadline_passed;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    revents = p.revents;
    if (n > 0) return socket_wait::ready;
    if (n < 0 && errno != EINTR) return socket_wait::failed;
    return socket_wait::not_yet;
}

}  // namespace

bool postgres_record_fault(std::string_view sqlstate) noexcept {
    return sqlstate.size() == 5 && (sqlstate.starts_with("22") || sqlstate.starts_with("23") || sqlstate.starts_with("54"));
}

bool postgres_retryable(std::string_view sqlstate, bool connection_ok) noexcept {
    if (sqlstate.empty()) return true;  // no answer from the server: lost or never reached
    if (sqlstate.starts_with("08")) return true;   // connection exception
    if (sqlstate.starts_with("57P")) return true;  // admin/crash shutdown, cannot connect now
    if (sqlstate.starts_with("53")) return true;   // insufficient resources (too many conns, disk)
    if (sqlstate.starts_with("58")) return true;   // I/O error on the server
    if (sqlstate == "40001" || sqlstate == "40P01") return true;  // serialization, deadlock
    if (sqlstate == "57014" || sqlstate == "55P03") return true;  // cancelled, lock timeout
    (void)connection_ok;  // a code from the server decides even when it closed the connection
    return false;
}

std::string_view sqlstate_in_message(std::string_view message) noexcept {
    // Verbose messages read "SEVERITY:  XXXXX: text"; the severity may be translated.
    for (auto p = message.find(":  "); p != std::string_view::npos; p = message.find(":  ", p + 1)) {
        auto code = message.substr(p + 3, 6);
        if (code.size() < 6 || code[5] != ':') continue;
        code.remove_suffix(1);
        if (std::all_of(code.begin(), code.end(), [](char ch) {
                return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z');
            }))
            return code;
    }
    return {};
}

struct postgres_store::connection {
    conn_ptr pg;
};

namespace {

// The one translator of libpq failures into service_error: operation, masked URI, the
// server's message and SQLSTATE, and whether trying again may help. `record_id` is set for a
// statement that writes records (empty when it holds several): a refusal of their values is
// then record_rejected.
[[noreturn]] void fail(const std::string& masked, const std::string& password, std::string_view op,
                       PGconn* c, const PGresult* r, const std::string* record_id) {
    std::string sqlstate;
    std::string msg;
    if (r) {
        if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) sqlstate = s;
        msg = PQresultErrorMessage(r);
    }
    if (msg.empty() && c) msg = PQerrorMessage(c);
    if (msg.empty()) msg = "unknown libpq error";
    msg = one_line(msg);
    scrub(msg, password);
    bool ok = c && PQstatus(c) == CONNECTION_OK;
    std::string what = "postgresql store " + masked + ": " + std::string(op) + ": " + msg +
                       (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")");
    if (record_id && postgres_record_fault(sqlstate)) throw record_rejected(std::move(what), *record_id);
    throw service_error(std::move(what), postgres_retryable(sqlstate, ok));
}

}  // namespace

postgres_store::postgres_store(std::string uri, std::chrono::milliseconds answer_timeout)
    : uri_(std::move(uri)),
      masked_(mask_postgres_uri(uri_)),
      password_(uri_password(uri_)),
      answer_timeout_(std::max(answer_timeout, std::chrono::milliseconds(1))) {
    // A malformed URI is a configuration mistake, not an outage.
    char* err = nullptr;
    conninfo_ptr parsed(PQconninfoParse(uri_.c_str(), &err));
    if (!parsed) {
        std::string why = err ? one_line(err) : "out of memory";
        PQfreemem(err);
        scrub(why, password_);
        throw config_error("store URI '" + masked_ + "' is not a valid PostgreSQL URI: " + why);
    }
    std::lock_guard lock(mutex_);
    create_schema(connected());
}

postgres_store::~postgres_store() = default;

std::string postgres_store::describe() const { return masked_; }

postgres_store::connection& postgres_store::connected() {
    if (conn_ && PQstatus(conn_->pg.get()) == CONNECTION_OK &&
        PQtransactionStatus(conn_->pg.get()) == PQTRANS_IDLE)
        return *conn_;
    conn_.reset();
    const std::string& password = password_;

    // Defaults the URI may override: dbname comes last, so its expanded values win.
    const char* keys[] = {"fallback_application_name", "client_encoding", "connect_timeout",
                          "keepalives_idle", "keepalives_interval", "keepalives_count",
                          "tcp_user_timeout", "dbname", nullptr};
    const std::string timeout_default = std::to_string(default_connect_timeout_s);
    const char* values[] = {"pfo3", "UTF8", timeout_default.c_str(), "30", "10", "3", "60000",
                            uri_.c_str(), nullptr};
    conn_ptr c(PQconnectStartParams(keys, values, 1));
    if (!c) throw service_error("postgresql store " + masked_ + ": connect: out of memory", true);
    // Verbose messages carry the SQLSTATE of a refused connection (28P01, 3D000, 57P03...),
    // which libpq offers no other way to read.
    PQsetErrorVerbosity(c.get(), PQERRORS_VERBOSE);

    int timeout_s = default_connect_timeout_s;
    if (conninfo_ptr info{PQconninfo(c.get())})
        for (auto* o = info.get(); o->keyword; ++o)
            if (std::strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val)
                timeout_s = std::max(1, std::atoi(o->val));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);

    auto connect_failed = [&]() {
        std::string raw = PQerrorMessage(c.get());
        std::string sqlstate(sqlstate_in_message(raw));
        std::string msg = one_line(plain_connect_message(raw, sqlstate));
        scrub(msg, password);
        // The server asked for a password none was given for: libpq fails before any SQLSTATE.
        bool retryable = postgres_retryable(sqlstate, false) && !PQconnectionNeedsPassword(c.get());
        throw service_error("postgresql store " + masked_ + ": connect: " + msg +
                                (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")"),
                            retryable);
    };

    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    if (PQstatus(c.get()) == CONNECTION_BAD) connect_failed();
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) connect_failed();
        short revents = 0;
        switch (wait_for_socket(PQsocket(c.get()), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, revents)) {
        case socket_wait::deadline_passed:
            throw service_error("postgresql store " + masked_ + ": connect: no connection within " +
                                    std::to_string(timeout_s) + " s",
                                true);
        case socket_wait::failed:
            throw service_error("postgresql store " + masked_ + ": connect: poll: " +
                                    std::system_category().message(errno),
                                true);
        case socket_wait::ready: st = PQconnectPoll(c.get()); break;
        case socket_wait::not_yet: break;
        }
    }
    PQsetErrorVerbosity(c.get(), PQERRORS_DEFAULT);
    PFO3_LOG(debug, "connected to the result store", {{"store", masked_}});
    // Statements are sent and awaited with a deadline (exec_until), which needs sends that
    // never block on a full socket buffer.
    if (PQsetnonblocking(c.get(), 1) != 0)
        throw service_error("postgresql store " + masked_ + ": connect: cannot make the connection non-blocking", true);
    conn_ = std::make_unique<connection>();
    conn_->pg = std::move(c);
    return *conn_;
}

namespace {

// Sends one statement and waits for its result until `timeout`: libpq's PQexec would wait
// forever for a server that hangs (stopped, or a network that drops packets without a reset),
// holding a worker's committer or a status thread. nullopt when the time ran out (the
// statement is then still in flight on `c`); a null result for a libpq error.
std::optional<result_ptr> exec_until(PGconn* c, const char* sql, int n_params, const char* const* values,
                                     std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!PQsendQueryParams(c, sql, n_params, nullptr, values, nullptr, nullptr, 0)) return result_ptr();
    for (;;) {
        const int unsent = PQflush(c);  // the connection is non-blocking: may leave data unsent
        if (unsent < 0) return result_ptr();
        if (unsent == 0 && !PQisBusy(c)) break;
        short revents = 0;
        const auto waited = wait_for_socket(PQsocket(c), POLLIN | (unsent ? POLLOUT : 0), deadline, revents);
        if (waited == socket_wait::deadline_passed) return std::nullopt;
        if (waited == socket_wait::failed) return result_ptr();
        if (waited == socket_wait::ready && (revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(c))
            return result_ptr();
    }
    // One statement gives one result, then null; an error result is the one to report.
    result_ptr first;
    while (PGresult* r = PQgetResult(c)) {
        result_ptr next(r);
        if (!first || PQresultStatus(next.get()) == PGRES_FATAL_ERROR) first = std::move(next);
    }
    return first;
}

// Runs one statement that returns no rows or some rows; throws through fail() otherwise, and
// a retryable service_error if the server does not answer within `timeout`. `record_id`: see
// fail().
result_ptr run(const std::string& masked, const std::string& password, std::chrono::milliseconds timeout,
               std::string_view op, PGconn* c, const char* sql, int n_params = 0,
               const char* const* values = nullptr, const std::string* record_id = nullptr) {
    auto answered = exec_until(c, sql, n_params, values, timeout);
    if (!answered)
        throw service_error("postgresql store " + masked + ": " + std::string(op) + ": no answer within " +
                                std::to_string(timeout.count()) + " ms; the connection is dropped",
                            true);
    result_ptr r = std::move(*answered);
    auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(masked, password, op, c, r.get(), record_id);
    return r;
}

}  // namespace

void postgres_store::create_schema(connection& conn) {
    PGconn* c = conn.pg.get();
    const std::string& password = password_;
    auto exec = [&](std::string_view op, const char* sql) { return run(masked_, password, answer_timeout_, op, c, sql); };
    int version = 0;
    try {
        exec("begin schema transaction", "BEGIN");
        std::string lock = "SELECT pg_advisory_xact_lock(" + std::to_string(schema_lock_key) + ")";
        exec("lock schema", lock.c_str());
        // Only what is missing is created, so a role without CREATE can use existing tables.
        auto found = exec("look up tables",
                          "SELECT to_regclass('pfo3_schema') IS NOT NULL, to_regclass('pfo3_tasks') IS NOT NULL");
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
        exec("commit schema", "COMMIT");
    } catch (const service_error&) {
        conn_.reset();  // also ends the transaction and its lock
        throw;
    }
    if (version > schema_version)
        throw service_error("postgresql store " + masked_ + ": table pfo3_tasks has schema version " +
                                std::to_string(version) + ", newer than this pfo3 understands (" +
                                std::to_string(schema_version) + "): upgrade pfo3",
                            false);
    PFO3_LOG(debug, "result store schema ready", {{"store", masked_}, {"version", std::to_string(version)}});
}

void postgres_store::write_rows(connection& conn, std::span<const task_record* const> rows) {
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
    }
    sql += tail;
    const std::string refused_id = rows.size() == 1 ? rows[0]->id : std::string();
    auto r = run(masked_, password_, answer_timeout_, "upsert " + std::to_string(rows.size()) + " results",
                 conn.pg.get(), sql.c_str(), n, values.data(), &refused_id);
    // Rows inserted or updated; the others were older than (or the same final record as) the
    // stored ones and were left as they are.
    const long written = std::atol(PQcmdTuples(r.get()));
    if (written < static_cast<long>(rows.size()))
        PFO3_LOG(debug, "postgresql store: kept stored records; the ones written were not newer",
                 {{"store", masked_}, {"kept", std::to_string(static_cast<long>(rows.size()) - written)},
                  {"of", std::to_string(rows.size())}});
}

template <class F>
auto postgres_store::with_connection(F&& f) {
    std::lock_guard lock(mutex_);
    for (int attempt = 0;; ++attempt) {
        bool reused = conn_ && PQstatus(conn_->pg.get()) == CONNECTION_OK;
        connection& c = connected();
        try {
            return f(c);
        } catch (const service_error&) {
            PGconn* pg = c.pg.get();
            // A statement still in flight went unanswered: the server hangs, and neither a
            // ROLLBACK nor an immediate retry would be answered sooner.
            const bool hung = PQtransactionStatus(pg) == PQTRANS_ACTIVE;
            bool lost = hung || PQstatus(pg) != CONNECTION_OK;
            if (!lost && PQtransactionStatus(pg) != PQTRANS_IDLE) {
                auto r = exec_until(pg, "ROLLBACK", 0, nullptr, answer_timeout_);
                lost = !r || !*r || PQresultStatus(r->get()) != PGRES_COMMAND_OK;
            }
            if (lost) conn_.reset();
            // A connection that went stale while idle (server restarted, idle timeout) gets
            // one immediate retry on a fresh one; statements here are safe to repeat.
            if (lost && reused && attempt == 0 && !hung) continue;
            throw;
        }
    }
}

void postgres_store::write(std::span<const task_record> records) {
    if (records.empty()) return;
    for (const auto& r : records)
        if (!is_valid_task_id(r.id))
            throw record_rejected("postgresql store " + masked_ + ": invalid task id '" +
                                      json::valid_utf8(std::string_view(r.id).substr(0, 140)) + "'",
                                  r.id);
    // One row per id (one statement may not upsert a row twice), sorted by id so concurrent
    // writers lock rows in one order (no deadlocks).
    const std::vector<const task_record*> unique = newest_per_id(records);

    with_connection([&](connection& c) {
        std::span<const task_record* const> all(unique);
        if (all.size() <= max_rows_per_statement) {
            // One statement outside a transaction block is its own transaction: when the
            // result arrives, it has committed (or failed as a whole).
            write_rows(c, all);
            return;
        }
        const std::string& password = password_;
        run(masked_, password, answer_timeout_, "begin", c.pg.get(), "BEGIN");
        for (std::size_t at = 0; at < all.size(); at += max_rows_per_statement)
            write_rows(c, all.subspan(at, std::min(max_rows_per_statement, all.size() - at)));
        const std::string unknown_record;  // a deferred constraint does not say which
        run(masked_, password, answer_timeout_, "commit " + std::to_string(all.size()) + " results", c.pg.get(),
            "COMMIT", 0, nullptr, &unknown_record);
    });
}

std::optional<task_record> postgres_store::read(std::string_view id) {
    if (!is_valid_task_id(id)) return std::nullopt;  // no such id can ever be stored
    const std::string key(id);
    return with_connection([&](connection& c) -> std::optional<task_record> {
        const char* values[] = {key.c_str()};
        auto r = run(masked_, password_, answer_timeout_, "read result", c.pg.get(), select_one, 1, values);
        if (PQntuples(r.get()) == 0) return std::nullopt;
        task_record out;
        out.id = key;
        out.type = field(r.get(), 0, 0);
        out.payload_json = field(r.get(), 0, 1);
        if (out.payload_json.empty()) out.payload_json = "null";
        auto status = field(r.get(), 0, 2);
        auto parsed = parse_task_status(status);
        if (!parsed || *parsed == task_status::pending)
            throw service_error("postgresql store " + masked_ + ": corrupt record '" + key +
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
        return out;
    });
}

}  // namespace pfo3::store
