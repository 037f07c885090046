#include "sqlite_store.hpp"

#include <chrono>
#include <thread>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "newest_records.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/text.hpp"
#include "upsert_rule.hpp"

namespace pfo3::store {

namespace {

constexpr std::string_view scheme = "sqlite://";

// The WAL is cut back to this size after a checkpoint, so one burst does not keep its size.
constexpr const char* wal_limit = "PRAGMA journal_size_limit = 67108864";

// WAL pages after which the checkpointer copies them into the database (SQLite's default).
constexpr int checkpoint_frames = 1000;
// WAL pages past which the checkpointer makes the WAL start from the top (RESTART) even if
// readers keep it in use: 16384 pages of 4 KiB, the journal_size_limit above.
constexpr int wal_restart_frames = 16384;

constexpr const char* create_tasks_table =
    "CREATE TABLE pfo3_tasks ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " type TEXT NOT NULL,"
    " payload TEXT,"  // JSON text, as received
    " status TEXT NOT NULL,"
    " result TEXT,"   // JSON text
    " error TEXT,"
    " attempts INTEGER NOT NULL,"
    " worker TEXT,"
    " submitted_at TEXT,"  // RFC 3339, UTC, as the record carries it
    " started_at TEXT,"
    " finished_at TEXT,"
    " updated_at TEXT NOT NULL,"
    " requeues INTEGER NOT NULL DEFAULT 0)";

constexpr std::string_view upsert_head =
    "INSERT INTO pfo3_tasks (id, type, payload, status, result, error, attempts, worker, "
    "submitted_at, started_at, finished_at, requeues, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
    " ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, payload = EXCLUDED.payload, "
    "status = EXCLUDED.status, result = EXCLUDED.result, error = EXCLUDED.error, "
    "attempts = EXCLUDED.attempts, worker = EXCLUDED.worker, "
    "submitted_at = EXCLUDED.submitted_at, started_at = EXCLUDED.started_at, "
    "finished_at = EXCLUDED.finished_at, requeues = EXCLUDED.requeues, updated_at = EXCLUDED.updated_at";

// Only the few records in cancel_requested are in it, so it costs the writes nothing else.
constexpr const char* create_cancel_index =
    "CREATE INDEX IF NOT EXISTS pfo3_tasks_cancel_requested ON pfo3_tasks (id) WHERE status = 'cancel_requested'";

constexpr std::string_view select_pending_cancels =
    "SELECT id, error FROM pfo3_tasks WHERE status = 'cancel_requested' LIMIT ?1";

constexpr std::string_view select_one =
    "SELECT type, payload, status, result, error, attempts, worker, submitted_at, started_at, "
    "finished_at, requeues FROM pfo3_tasks WHERE id = ?1";

// Failures no retry can cure: the file is no database, or this process may not use it.
bool permanent(int primary) noexcept {
    switch (primary) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
    case SQLITE_MISUSE:
    case SQLITE_ERROR:  // SQL the schema does not fit: a table changed by hand
        return true;
    default:
        return false;  // busy, locked, I/O errors, a full disk: may pass
    }
}

// Refusals of one record's values.
bool record_fault(int primary) noexcept {
    return primary == SQLITE_TOOBIG || primary == SQLITE_CONSTRAINT || primary == SQLITE_MISMATCH ||
           primary == SQLITE_RANGE;
}

// Resets a statement when a scope ends, so the next use starts afresh and a read
// transaction is not held open by a statement left mid-way.
class reset_on_exit {
public:
    explicit reset_on_exit(sqlite3_stmt* s) noexcept : s_(s) {}
    ~reset_on_exit() { sqlite3_reset(s_); }
    reset_on_exit(const reset_on_exit&) = delete;
    reset_on_exit& operator=(const reset_on_exit&) = delete;

private:
    sqlite3_stmt* s_;
};

std::string column_text(sqlite3_stmt* s, int col) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
    if (!p) return {};
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col)));
}

}  // namespace

std::string sqlite_path_of(std::string_view uri) {
    std::string_view path = uri.substr(std::min(uri.size(), scheme.size()));
    auto refuse = [&](std::string_view why) {
        throw config_error("store URI '" + log::mask_url(uri) + "' " + std::string(why));
    };
    if (!uri.starts_with(scheme) || path.empty() || path.front() != '/')
        refuse("must name a database file by its absolute path: sqlite:///DIR/FILE.db");
    if (path.back() == '/') refuse("names a directory, not a database file: sqlite:///DIR/FILE.db");
    if (path.find_first_of("?#") != std::string_view::npos)
        refuse("has a query or fragment: sqlite:// takes a plain file path, no options");
    if (path.find('\0') != std::string_view::npos) refuse("holds a NUL character");
    return std::string(path);
}

void sqlite_store::db_closer::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
void sqlite_store::stmt_finalizer::operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }

sqlite_store::sqlite_store(std::string path, options opts) : path_(std::move(path)), opts_(opts) {
    std::lock_guard lock(mutex_);
    // A reader opens on its first read: serve starts before any worker has made the file.
    if (!opts_.read_only) open_writer();
}

sqlite_store::~sqlite_store() = default;

std::string sqlite_store::describe() const { return std::string(scheme) + path_; }

void sqlite_store::fail(std::string_view op, int rc, const std::string* record_id) const {
    const int primary = rc & 0xff;
    std::string what = "sqlite store " + describe() + ": " + std::string(op) + ": ";
    const std::string message = db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
    what += message;
    const bool os_fault = primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL;
    if (const int e = db_ ? sqlite3_system_errno(db_.get()) : 0; e != 0 && os_fault)
        what += " (" + std::system_category().message(e) + ")";
    if (message != sqlite3_errstr(primary)) what += std::string(" [") + sqlite3_errstr(primary) + "]";
    what += " [code " + std::to_string(rc) + "]";
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
        what += ": the file is not a pfo3 SQLite database or it is damaged; move it aside (pfo3 creates a new one)";
    if (record_id && record_fault(primary)) throw record_rejected(std::move(what), *record_id);
    throw service_error(std::move(what), !permanent(primary));
}

void sqlite_store::close() noexcept {
    upsert_.reset();
    select_.reset();
    begin_.reset();
    commit_.reset();
    rollback_.reset();
    db_.reset();
}

void sqlite_store::open_connection(int flags) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path_.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);  // even a failed open returns a handle to close
    if (rc != SQLITE_OK) {
        const std::string reason = db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
        const int e = db_ ? sqlite3_system_errno(db_.get()) : 0;
        close();
        throw service_error("sqlite store " + describe() + ": cannot open the database: " + reason +
                                (e ? " (" + std::system_category().message(e) + ")" : std::string()),
                            !permanent(rc & 0xff));
    }
    sqlite3_extended_result_codes(db_.get(), 1);
    // Not sqlite3_busy_timeout: its waits grow 1, 2, 5, 10, 15, 20, 25… ms, and two workers of
    // one host that take turns at the write lock (held for a group's inserts and one fsync,
    // a fraction of a millisecond) each lost 15–25 ms a turn: p99 submit -> stored at 2000
    // tasks/s was 77 ms with two workers, 4 ms with one (docs/benchmarks.md).
    sqlite3_busy_handler(db_.get(), &sqlite_store::on_busy, this);
    sqlite3_limit(db_.get(), SQLITE_LIMIT_LENGTH, opts_.max_record_bytes);
}

int sqlite_store::on_busy(void* self, int count) noexcept {
    auto* s = static_cast<sqlite_store*>(self);
    const auto now = std::chrono::steady_clock::now();
    if (count == 0) s->busy_since_ = now;  // a new wait for the lock
    if (now - s->busy_since_ >= s->opts_.busy_timeout) return 0;  // SQLITE_BUSY to the caller
    // Short steps while the holder is likely finishing a group; longer ones if it is not.
    const auto step = count < 50 ? std::chrono::microseconds(100) : std::chrono::microseconds(1000);
    std::this_thread::sleep_for(step);
    return 1;
}

void sqlite_store::exec(std::string_view op, const char* sql) {
    if (int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr); rc != SQLITE_OK) fail(op, rc);
}

sqlite_store::stmt_ptr sqlite_store::prepare(std::string_view op, std::string_view sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    stmt_ptr out(raw);
    if (rc != SQLITE_OK) fail(op, rc);
    return out;
}

void sqlite_store::step_done(std::string_view op, sqlite3_stmt* stmt) {
    reset_on_exit reset(stmt);
    if (int rc = sqlite3_step(stmt); rc != SQLITE_DONE) fail(op, rc);
}

int sqlite_store::user_version() {
    auto s = prepare("read schema version", "PRAGMA user_version");
    const int rc = sqlite3_step(s.get());
    if (rc != SQLITE_ROW) fail("read schema version", rc);
    return sqlite3_column_int(s.get(), 0);
}

namespace {

// The directory must exist already: a store URI with a typo must not make a database
// somewhere nobody looks (the package creates /var/lib/pfo3; see docs/operations.md).
void check_directory(const std::string& path, const std::string& shown, bool writable) {
    const std::string dir = path.substr(0, std::max<std::size_t>(path.rfind('/'), 1));
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        const int e = errno;
        throw service_error("sqlite store " + shown + ": directory " + dir + ": " +
                                std::system_category().message(e) + " (create it, or fix store.uri)",
                            e != ENOENT && e != ENOTDIR && e != EACCES);
    }
    if (!S_ISDIR(st.st_mode))
        throw service_error("sqlite store " + shown + ": " + dir + " is not a directory", false);
    // SQLite makes the WAL and its index (FILE-wal, FILE-shm) beside the database.
    if (writable && ::access(dir.c_str(), W_OK | X_OK) != 0) {
        const int e = errno;
        throw service_error("sqlite store " + shown + ": directory " + dir + " is not writable by this user (uid " +
                                std::to_string(::geteuid()) + "): " + std::system_category().message(e),
                            false);
    }
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        throw service_error("sqlite store " + shown + ": " + path + " is a directory, not a database file", false);
}

}  // namespace

void sqlite_store::open_writer() {
    check_directory(path_, describe(), true);
    open_connection(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    try {
        // WAL: readers (serve's status) never wait for the writer, and a commit appends to one
        // file. The mode is kept in the file, so every later connection has it too.
        // Switching to WAL needs a moment of exclusive access for which SQLite does not always
        // call the busy handler: workers opening a new file together get SQLITE_BUSY at once.
        // Try again until the busy timeout has passed.
        const auto deadline = std::chrono::steady_clock::now() + opts_.busy_timeout;
        std::string got;
        for (;;) {
            auto mode = prepare("set WAL journal mode", "PRAGMA journal_mode = WAL");
            const int rc = sqlite3_step(mode.get());
            if (rc == SQLITE_ROW) {
                got = column_text(mode.get(), 0);
                break;
            }
            if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || std::chrono::steady_clock::now() >= deadline)
                fail("set WAL journal mode", rc);
            mode.reset();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (got != "wal")
            throw service_error("sqlite store " + describe() + ": the file system does not support WAL mode (journal mode " +
                                    got + "): put the database on a local file system",
                                false);
        // FULL: every commit syncs the WAL, so a group is durable when write() returns and the
        // worker acks it. NORMAL would sync only at checkpoints: a power loss could lose
        // acked results.
        exec("set synchronous = FULL", "PRAGMA synchronous = FULL");
        exec("limit the WAL size", wal_limit);
        if (!checkpointer_) checkpointer_ = std::make_unique<sqlite_checkpointer>(path_, checkpoint_frames, wal_restart_frames);
        checkpointer_->attach(db_.get());
        create_schema();
        begin_ = prepare("prepare begin", "BEGIN IMMEDIATE");
        commit_ = prepare("prepare commit", "COMMIT");
        rollback_ = prepare("prepare rollback", "ROLLBACK");
        upsert_ = prepare("prepare upsert", std::string(upsert_head) + may_replace_where());
        select_ = prepare("prepare read", select_one);
    } catch (...) {
        close();
        throw;
    }
}

void sqlite_store::create_schema() {
    // IMMEDIATE: the write lock first, so workers starting together create the table once.
    exec("begin schema transaction", "BEGIN IMMEDIATE");
    int version = 0;
    try {
        version = user_version();
        if (version == 0) {
            exec("create table pfo3_tasks", create_tasks_table);
            exec("record schema version",
                 ("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
            version = schema_version;
            PFO3_LOG(info, "result store database created", {{"store", describe()}});
        }
        // A later schema adds its migration here: if (version == 1) { ALTER TABLE …; version = 2; }
        // Not versioned: a database of an earlier release gets it on its first writer's start.
        if (version == schema_version) exec("create the index of pending cancels", create_cancel_index);
        exec("commit schema", "COMMIT");
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    if (version > schema_version)
        throw service_error("sqlite store " + describe() + ": table pfo3_tasks has schema version " +
                                std::to_string(version) + ", newer than this pfo3 understands (" +
                                std::to_string(schema_version) + "): upgrade pfo3",
                            false);
}

bool sqlite_store::open_reader() {
    check_directory(path_, describe(), false);
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0 && errno == ENOENT) return false;  // no worker has written yet
    open_connection(SQLITE_OPEN_READONLY);
    try {
        const int version = user_version();
        if (version == 0) {
            close();  // created but no schema yet: look again on the next read
            return false;
        }
        if (version > schema_version)
            throw service_error("sqlite store " + describe() + ": table pfo3_tasks has schema version " +
                                    std::to_string(version) + ", newer than this pfo3 understands (" +
                                    std::to_string(schema_version) + "): upgrade pfo3",
                                false);
        select_ = prepare("prepare read", select_one);
    } catch (...) {
        close();
        throw;
    }
    return true;
}

void sqlite_store::write_rows(std::span<const task_record* const> rows) {
    sqlite3_stmt* s = upsert_.get();
    constexpr int columns = 12;
    std::string repaired[columns + 1];  // by column: texts that needed repair, alive until the step
    int col = 0;
    const std::string* id = nullptr;
    auto bind_text = [&](std::string_view v) {
        ++col;
        if (!is_storable_text(v)) v = repaired[col] = storable_text(v);
        const int rc = sqlite3_bind_text64(s, col, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
        if (rc != SQLITE_OK) fail("store result", rc, id);
    };
    auto bind_optional = [&](const std::string& v) {
        if (!v.empty()) return bind_text(v);
        if (int rc = sqlite3_bind_null(s, ++col); rc != SQLITE_OK) fail("store result", rc, id);
    };
    auto bind_int = [&](int v) {
        if (int rc = sqlite3_bind_int(s, ++col, v); rc != SQLITE_OK) fail("store result", rc, id);
    };
    constexpr std::string_view null_json = "null";
    long written = 0;
    for (const task_record* r : rows) {
        reset_on_exit reset(s);
        col = 0;
        id = &r->id;
        bind_text(r->id);
        bind_text(r->type);
        bind_text(r->payload_json.empty() ? null_json : std::string_view(r->payload_json));
        bind_text(to_string(r->status));  // a view of a literal
        bind_text(r->result_json.empty() ? null_json : std::string_view(r->result_json));
        bind_optional(r->error);
        bind_int(r->attempts);
        bind_text(r->worker);
        bind_optional(r->submitted_at);
        bind_optional(r->started_at);
        bind_optional(r->finished_at);
        bind_int(r->requeues);
        if (int rc = sqlite3_step(s); rc != SQLITE_DONE) fail("store result", rc, id);
        written += sqlite3_changes(db_.get());
    }
    if (written < static_cast<long>(rows.size()))
        PFO3_LOG(debug, "sqlite store: kept stored records; the ones written were not newer",
                 {{"store", describe()}, {"kept", std::to_string(static_cast<long>(rows.size()) - written)},
                  {"of", std::to_string(rows.size())}});
}

void sqlite_store::write(std::span<const task_record> records) {
    if (records.empty()) return;
    if (opts_.read_only)
        throw service_error("sqlite store " + describe() + ": opened read-only, cannot store results", false);
    for (const auto& r : records)
        if (!is_valid_task_id(r.id))
            throw record_rejected("sqlite store " + describe() + ": invalid task id '" +
                                      json::valid_utf8(std::string_view(r.id).substr(0, 140)) + "'",
                                  r.id);
    const std::vector<const task_record*> unique = newest_per_id(records);

    std::lock_guard lock(mutex_);
    if (!db_) open_writer();  // closed after a failure it could not roll back
    step_done("begin transaction", begin_.get());
    try {
        write_rows(unique);
        step_done("commit " + std::to_string(unique.size()) + " results", commit_.get());
    } catch (...) {
        // A failed statement may have ended the transaction already; if the rollback cannot
        // leave the connection clean, it is reopened on the next call.
        if (!sqlite3_get_autocommit(db_.get())) {
            const int rc = sqlite3_step(rollback_.get());
            sqlite3_reset(rollback_.get());
            if (rc != SQLITE_DONE) close();
        }
        throw;
    }
}

std::vector<pending_cancel> sqlite_store::pending_cancels(std::size_t limit) {
    std::lock_guard lock(mutex_);
    if (!db_) {
        if (!opts_.read_only) open_writer();
        else if (!open_reader()) return {};
    }
    auto s = prepare("prepare the list of pending cancels", select_pending_cancels);
    if (int rc = sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(std::min<std::size_t>(limit, INT64_MAX)));
        rc != SQLITE_OK)
        fail("list pending cancels", rc);
    std::vector<pending_cancel> out;
    for (;;) {
        const int rc = sqlite3_step(s.get());
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) fail("list pending cancels", rc);
        out.push_back({column_text(s.get(), 0), column_text(s.get(), 1)});
    }
    return out;
}

std::optional<task_record> sqlite_store::read(std::string_view id) {
    if (!is_valid_task_id(id)) return std::nullopt;  // no such id can ever be stored
    std::lock_guard lock(mutex_);
    if (!db_) {
        if (!opts_.read_only) open_writer();
        else if (!open_reader()) return std::nullopt;
    }
    sqlite3_stmt* s = select_.get();
    reset_on_exit reset(s);
    if (int rc = sqlite3_bind_text64(s, 1, id.data(), id.size(), SQLITE_STATIC, SQLITE_UTF8); rc != SQLITE_OK)
        fail("read result", rc);
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return std::nullopt;
    if (rc != SQLITE_ROW) fail("read result", rc);
    task_record out;
    out.id = std::string(id);
    out.type = column_text(s, 0);
    out.payload_json = column_text(s, 1);
    if (out.payload_json.empty()) out.payload_json = "null";
    const std::string status = column_text(s, 2);
    auto parsed = parse_task_status(status);
    if (!parsed || *parsed == task_status::pending)
        throw service_error("sqlite store " + describe() + ": corrupt record '" + out.id + "': status '" +
                                json::valid_utf8(status) + "'",
                            false);
    out.status = *parsed;
    out.result_json = column_text(s, 3);
    if (out.result_json.empty()) out.result_json = "null";
    out.error = column_text(s, 4);
    out.attempts = sqlite3_column_int(s, 5);
    out.worker = column_text(s, 6);
    out.submitted_at = column_text(s, 7);
    out.started_at = column_text(s, 8);
    out.finished_at = column_text(s, 9);
    out.requeues = sqlite3_column_int(s, 10);
    return out;
}

}  // namespace pfo3::store
