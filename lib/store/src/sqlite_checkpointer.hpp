#pragma once
// Copies a SQLite WAL back into its database file on a thread of its own, so a worker's commit
// never waits for that copy and its fsync. Left to SQLite (wal_autocheckpoint), the commit that
// crosses the threshold runs the checkpoint itself: at 2000 tasks/s that stalled one group in
// ~100 for 40-130 ms, which was the whole p99 of submit -> stored (docs/benchmarks.md).
// Under a steady load PASSIVE checkpoints alone never let the WAL start again from the top (a
// writer restarts it only when every frame is copied back and no reader holds a snapshot in
// it): at 2000 tasks/s it grew to 555 MB in 33 s. Past `restart_frames` the thread therefore
// runs a RESTART checkpoint, which holds new writers back for 1-2 ms.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

typedef struct sqlite3 sqlite3;  // NOLINT(modernize-use-using): SQLite's own declaration

namespace pfo3::store {

class sqlite_checkpointer {
public:
    /// `path`: the database; `threshold_frames`: WAL frames (pages) after which a checkpoint
    /// is started (SQLite's own default is 1000); `restart_frames`: WAL length past which the
    /// checkpoint also makes the next commit start the WAL from the top (RESTART), waiting up
    /// to `restart_wait` for readers.
    sqlite_checkpointer(std::string path, int threshold_frames, int restart_frames = 16384,
                        std::chrono::milliseconds restart_wait = std::chrono::milliseconds(200));
    ~sqlite_checkpointer();
    sqlite_checkpointer(const sqlite_checkpointer&) = delete;
    sqlite_checkpointer& operator=(const sqlite_checkpointer&) = delete;

    /// Makes `db` (a writer connection) hand its checkpoints to this thread instead of running
    /// them in its commits. The hook stays until `db` closes; this object must outlive it.
    /// One connection at a time (its commits are serialised by its owner).
    void attach(sqlite3* db);

    /// Checkpoints finished (tests and logs).
    long completed() const;
    /// RESTART checkpoints after which the WAL starts from the top (tests and logs).
    long restarted() const;

    /// Test seam: while held, the thread takes no request, as if stuck in a slow checkpoint.
    void hold_for_tests(bool held);

private:
    static int on_commit(void* self, sqlite3* db, const char* schema, int wal_frames);
    void run(const std::stop_token& stop);
    bool checkpoint_once(sqlite3*& db);
    static int on_busy(void* self, int count) noexcept;

    // WAL frames, as a multiple of the threshold, past which a commit checkpoints itself.
    static constexpr int backstop_factor = 8;

    std::string path_;
    int threshold_;
    int restart_frames_;
    std::chrono::milliseconds restart_wait_;
    std::chrono::steady_clock::time_point busy_since_;  // on_busy's; the thread's own
    mutable std::mutex mutex_;
    std::condition_variable_any wake_;
    int requested_at_ = 0;  // WAL frames at the last request; the attached connection's thread only
    int behind_from_ = -1;  // WAL frames at the oldest request nothing served since (-1: none); the same thread
    long served_seen_ = 0;  // served_ as that thread last saw it
    bool wanted_ = false;   // guarded by mutex_
    long completed_ = 0;   // guarded by mutex_
    long restarted_ = 0;   // guarded by mutex_
    long served_ = 0;      // guarded by mutex_: requests that found the WAL checkpointed or being so
    bool held_ = false;    // guarded by mutex_
    std::jthread thread_;  // last: starts after the members it uses exist
};

}  // namespace pfo3::store
