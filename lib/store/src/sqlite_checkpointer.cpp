#include "sqlite_checkpointer.hpp"

#include <sqlite3.h>

#include <thread>
#include <utility>

#include "pfo3/core/log.hpp"

namespace pfo3::store {

sqlite_checkpointer::sqlite_checkpointer(std::string path, int threshold_frames, int restart_frames,
                                         std::chrono::milliseconds restart_wait)
    : path_(std::move(path)), threshold_(threshold_frames > 0 ? threshold_frames : 1000),
      restart_frames_(restart_frames > 0 ? restart_frames : 16384), restart_wait_(restart_wait),
      thread_([this](std::stop_token stop) { run(stop); }) {}

sqlite_checkpointer::~sqlite_checkpointer() {
    thread_.request_stop();
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void sqlite_checkpointer::attach(sqlite3* db) {
    // Replaces the hook sqlite3_wal_autocheckpoint() installs: the commit no longer checkpoints.
    sqlite3_wal_hook(db, &sqlite_checkpointer::on_commit, this);
}

long sqlite_checkpointer::completed() const {
    std::lock_guard lock(mutex_);
    return completed_;
}

long sqlite_checkpointer::restarted() const {
    std::lock_guard lock(mutex_);
    return restarted_;
}

int sqlite_checkpointer::on_busy(void* self, int count) noexcept {
    // Fine steps: a RESTART checkpoint waits here with new writers held back, for readers to
    // finish (the bench's 2 ms poll, serve's status reads take well under a millisecond).
    auto* c = static_cast<sqlite_checkpointer*>(self);
    const auto now = std::chrono::steady_clock::now();
    if (count == 0) c->busy_since_ = now;
    if (now - c->busy_since_ >= c->restart_wait_) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    return 1;
}

void sqlite_checkpointer::hold_for_tests(bool held) {
    std::lock_guard lock(mutex_);
    held_ = held;
    wake_.notify_all();
}

int sqlite_checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int wal_frames) {
    // Called by the committing thread right after its commit: only a flag and a wake-up.
    // `wal_frames` counts the whole WAL, which keeps its length until a writer restarts it from
    // the top (no reader may still need it): counting from the last request, not from zero, keeps
    // a WAL that readers hold long from asking for a checkpoint after every commit (with two
    // extra fsyncs each: SQLite's own autocheckpoint does exactly that).
    auto* c = static_cast<sqlite_checkpointer*>(self);
    if (wal_frames < c->requested_at_) c->requested_at_ = 0;  // the WAL was restarted
    if (wal_frames - c->requested_at_ < c->threshold_) return SQLITE_OK;
    {
        std::lock_guard lock(c->mutex_);
        // A request served since the oldest one (or a restarted WAL, which only a checkpoint
        // allows) means the thread keeps up.
        if (c->served_ != c->served_seen_ || wal_frames < c->behind_from_) {
            c->served_seen_ = c->served_;
            c->behind_from_ = -1;
        }
        if (!c->wanted_) {
            c->wanted_ = true;
            c->requested_at_ = wal_frames;
            c->wake_.notify_one();
        }
    }
    if (c->behind_from_ < 0) c->behind_from_ = wal_frames;
    // The thread has served no request while the WAL grew by backstop_factor times the threshold
    // (it is stuck in a slow checkpoint, or cannot open the file, or keeps failing: a failure ends
    // its request, so whether one is pending does not tell): the commit checkpoints itself, as
    // SQLite would, so the WAL stays bounded. The commit has happened whatever this returns; an
    // error here would only fail the COMMIT statement of a group that is durable.
    if (wal_frames - c->behind_from_ >= backstop_factor * c->threshold_) {
        c->requested_at_ = wal_frames;
        c->behind_from_ = wal_frames;
        const int rc = sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
            PFO3_LOG(warn, "sqlite store: WAL checkpoint in the commit failed",
                     {{"store", "sqlite://" + c->path_}, {"error", sqlite3_errmsg(db)}});
    }
    return SQLITE_OK;
}

void sqlite_checkpointer::run(const std::stop_token& stop) {
    sqlite3* db = nullptr;  // its own connection: a checkpoint must not hold the writer's mutex
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            if (!wake_.wait(lock, stop, [this] { return wanted_ && !held_; })) break;
        }
        const bool served = checkpoint_once(db);
        std::lock_guard lock(mutex_);
        wanted_ = false;
        if (served) ++served_;
    }
    sqlite3_close_v2(db);
}

bool sqlite_checkpointer::checkpoint_once(sqlite3*& db) {
    if (!db) {
        if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
            PFO3_LOG(warn, "sqlite store: cannot open the database to checkpoint its WAL; will try at the next threshold",
                     {{"store", "sqlite://" + path_}, {"error", db ? sqlite3_errmsg(db) : "out of memory"}});
            sqlite3_close_v2(db);
            db = nullptr;
            return false;
        }
        // The same durability as the writers: the database file is synced before the WAL is reused.
        sqlite3_exec(db, "PRAGMA synchronous = FULL", nullptr, nullptr, nullptr);
        sqlite3_busy_handler(db, &sqlite_checkpointer::on_busy, this);
    }
    int wal = 0, copied = 0;
    // PASSIVE: copies what no reader still needs and never blocks a writer or a reader. Another
    // process's checkpoint running at the same time answers SQLITE_BUSY: nothing to do then.
    int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal, &copied);
    if (rc == SQLITE_OK && wal >= restart_frames_) {
        // What PASSIVE left is what readers held or writers added meanwhile: RESTART copies it
        // with new writers held back and waits (on_busy, up to restart_wait_) until no reader is
        // in the WAL, so the next commit writes from the top of the file (journal_size_limit
        // cuts it back). TRUNCATE would also empty the file: 30-40 ms of ftruncate and fsync
        // with writers held back, against 1-2 ms. Readers that outlast the wait: again next time.
        int left = 0, now_copied = 0;
        const int full = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_RESTART, &left, &now_copied);
        if (full == SQLITE_OK) {
            std::lock_guard lock(mutex_);
            ++restarted_;
        } else if ((full & 0xff) != SQLITE_BUSY && (full & 0xff) != SQLITE_LOCKED) {
            rc = full;
        }
    }
    if (rc == SQLITE_OK) {
        std::lock_guard lock(mutex_);
        ++completed_;
        return true;
    }
    // Busy: another connection's checkpoint is copying the WAL right now, which serves as well.
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return true;
    PFO3_LOG(warn, "sqlite store: WAL checkpoint failed; if this goes on, the commits checkpoint themselves",
             {{"store", "sqlite://" + path_}, {"error", sqlite3_errmsg(db)}, {"wal_frames", std::to_string(wal)}});
    sqlite3_close_v2(db);
    db = nullptr;
    return false;
}

}  // namespace pfo3::store
