#include "file_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <cstdio>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <ctime>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "newest_records.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "record_codec.hpp"
#include "pfo3/core/unique_fd.hpp"

namespace pfo3::store {

namespace {

using pfo3::unique_fd;

// Larger than any record a worker writes (a 16 MiB handler output, escaped), so only a
// foreign or damaged file hits it.
constexpr off_t max_record_bytes = off_t{128} << 20;
// Temp files younger than this may belong to another worker sharing the directory.
constexpr std::time_t stale_temp_age_s = 60;
// In every temp and probe name. '~' is outside the task id alphabet, so no record file
// (ID.json) ever has it and the start-up cleaner can never take a record for a temp.
constexpr std::string_view temp_marker = "~tmp~";

// Errors that no retry will cure: the directory is misconfigured, not temporarily full.
bool errno_retryable(int e) noexcept {
    switch (e) {
    case EACCES:
    case EPERM:
    case EROFS:
    case ENOTDIR:
    case EISDIR:
    case ENAMETOOLONG:
    case ELOOP:
    case EINVAL:
        return false;
    default:
        return true;
    }
}

[[noreturn]] void fail(std::string_view op, const std::string& path, int e) {
    throw service_error("file store: " + std::string(op) + " " + path + ": " +
                            std::system_category().message(e),
                        errno_retryable(e));
}

// A failure writing one record's own file: a file too large for the limits (EFBIG) or a name
// too long for this file system is that record's fault, not the store's.
[[noreturn]] void fail_record(std::string_view op, const std::string& path, int e, const std::string& id) {
    if (e == EFBIG || e == ENAMETOOLONG)
        throw record_rejected("file store: " + std::string(op) + " " + path + ": " + std::system_category().message(e), id);
    fail(op, path, e);
}

[[noreturn]] void fail_fatal(std::string_view op, const std::string& path, int e) {
    throw service_error("file store: " + std::string(op) + " " + path + ": " +
                            std::system_category().message(e),
                        false);
}

// Unique temp names keep concurrent writers of one id apart; O_EXCL catches any collision.
std::string random_suffix() {
    thread_local std::mt19937_64 rng([] {
        std::uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed))
            seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                   static_cast<std::uint64_t>(::getpid());
        return seed;
    }());
    std::uint64_t v = rng();
    static constexpr char hex[] = "0123456789abcdef";
    std::string s(16, '0');
    for (auto& c : s) {
        c = hex[v & 15];
        v >>= 4;
    }
    return s;
}

bool is_temp_name(std::string_view name) {
    if (name.size() < 2 || name[0] != '.') return false;
    if (name.find(temp_marker) != std::string_view::npos) return true;
    // Temps of releases before `~tmp~`: `.ID.json.tmp.RANDOM`. A record's name always ends in
    // ".json" (an id like `.a.json.tmp.b` makes `.a.json.tmp.b.json`), such a temp never does.
    return name.find(".json.tmp.") != std::string_view::npos && !name.ends_with(".json");
}

// An id quoted for an error message, cut short: invalid ids may be long or odd.
std::string shown_id(std::string_view id) {
    std::string s(id.substr(0, 140));
    for (auto& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return "'" + s + "'";
}

void check_id(std::string_view id) {
    if (!is_valid_task_id(id))
        throw service_error("file store: invalid task id " + shown_id(id), false);
}

void check_record_id(const std::string& id) {
    if (!is_valid_task_id(id)) throw record_rejected("file store: invalid task id " + shown_id(id), id);
}

std::string temp_name(const std::string& id) { return "." + id + ".json" + std::string(temp_marker) + random_suffix(); }

void mkdir_p(const std::string& dir) {
    for (std::size_t i = 1; i <= dir.size(); ++i) {
        if (i != dir.size() && dir[i] != '/') continue;
        std::string part = dir.substr(0, i);
        if (::mkdir(part.c_str(), 0750) != 0 && errno != EEXIST) fail_fatal("create directory", part, errno);
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) fail_fatal("stat", dir, errno);
    if (!S_ISDIR(st.st_mode)) fail_fatal("use directory", dir, ENOTDIR);
}

unique_fd open_dir(const std::string& dir) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) fail("open directory", dir, errno);
    return fd;
}

void write_all(int fd, std::string_view data, const std::string& path, const std::string& id) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_record("write", path, errno, id);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Removes temp files a crashed writer left behind; failures only cost disk space.
void clean_stale_temps(int dir_fd) {
    int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return;
    DIR* d = ::fdopendir(dup_fd);
    if (!d) {
        ::close(dup_fd);
        return;
    }
    std::vector<std::string> stale;
    std::time_t now = std::time(nullptr);
    while (dirent* e = ::readdir(d)) {
        if (!is_temp_name(e->d_name)) continue;
        struct stat st {};
        if (::fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            now - st.st_mtime >= stale_temp_age_s)
            stale.emplace_back(e->d_name);
    }
    ::closedir(d);
    for (const auto& name : stale) ::unlinkat(dir_fd, name.c_str(), 0);
}

// The text of the file `name` (relative to dir_fd, or absolute), nullopt if there is none.
std::optional<std::string> read_text_at(int dir_fd, const std::string& name, const std::string& path) {
    unique_fd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        fail("open", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) fail("stat", path, errno);
    if (!S_ISREG(st.st_mode)) throw service_error("file store: " + path + " is not a regular file", false);
    if (st.st_size > max_record_bytes)
        throw service_error("file store: " + path + " is larger than any record (" +
                                std::to_string(st.st_size) + " bytes)",
                            false);
    std::string text;
    text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < text.size()) {
        ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("read", path, errno);
        }
        if (n == 0) break;  // the file shrank: it can only be a foreign writer, decode decides
        got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    return text;
}

// Gives a flushed record its name ID.json, unless the record stored there may not be replaced
// by it (may_replace: nothing replaces a final record, nor a later attempt's). The normal path
// is one syscall, the link; only an existing name costs a read of the stored record.
//
// Race left open: between reading the stored record and the rename another writer may put a
// record there, which the rename then replaces unseen. It takes two writers replacing the same
// existing non-final record at the same moment (two workers running one task); the one that
// renames last wins, and that may be the older record. A create never races that way: linkat
// fails if a name appeared meanwhile, and the record found is judged.
//
// `link_new()` gives the data the name if it is free (true) and answers false if it is taken
// (EEXIST), never replacing, so two writers creating one name cannot both succeed;
// `replace()` puts the data in place of the record there now (a rename: atomic).
template <class Link, class Replace>
void place(int dir_fd, const std::string& dir, const task_record& r, Link&& link_new, Replace&& replace) {
    const std::string name = r.id + ".json";
    constexpr int max_tries = 3;  // only a record deleted between EEXIST and the read loops
    for (int tries = 1;; ++tries) {
        if (link_new()) return;
        auto text = read_text_at(dir_fd, name, dir + "/" + name);
        if (!text) {
            if (tries < max_tries) continue;
            throw service_error("file store: " + dir + "/" + name + " keeps appearing and vanishing", true);
        }
        task_record stored;
        std::string why;
        if (!decode_record(*text, stored, why) || stored.id != r.id) {
            // Not a record of this id (a foreign file): a real record is the better content.
            PFO3_LOG(warn, "file store: replacing a file that holds no record of its id",
                     {{"task_id", r.id}, {"path", dir + "/" + name}, {"error", why.empty() ? "other id" : why}});
        } else if (!may_replace(stored, r)) {
            PFO3_LOG(debug, "file store: kept the stored record; the one written is not newer",
                     {{"task_id", r.id},
                      {"stored", standing(stored)},
                      {"skipped", standing(r)}});
            return;
        }
        replace();
        return;
    }
}

// Whether unnamed files can be created in the directory and linked to a name: not every
// file system has O_TMPFILE (EOPNOTSUPP, or EISDIR from kernels that predate it), and the
// link needs /proc. Returns the errno of the step that failed, 0 if all worked.
int probe_unnamed(int dir_fd) {
    unique_fd fd(::openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0640));
    if (!fd) return errno;
    if (::write(fd.get(), "{}", 2) != 2) return errno ? errno : EIO;
    char proc[40];
    std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd.get());
    const std::string name = ".pfo3-probe-link" + std::string(temp_marker) + random_suffix();
    if (::linkat(AT_FDCWD, proc, dir_fd, name.c_str(), AT_SYMLINK_FOLLOW) != 0) return errno;
    ::unlinkat(dir_fd, name.c_str(), 0);
    return 0;
}

// Moves the temp file `from` to `to` unless `to` exists. 0 when moved, EEXIST when `to`
// exists, else the errno of the failure. renameat2's RENAME_NOREPLACE does it in one step, as
// cheap as a plain rename; file systems without it (NFS answers EINVAL) get linkat, which
// never replaces either, and an unlink of the temp name.
int move_no_replace(int dir_fd, const std::string& from, const std::string& to) {
    if (::renameat2(dir_fd, from.c_str(), dir_fd, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return errno;
    if (::linkat(dir_fd, from.c_str(), dir_fd, to.c_str(), 0) != 0) return errno;
    ::unlinkat(dir_fd, from.c_str(), 0);
    return 0;
}

// Unnamed files a write() holds open at once before its barrier: bounds the descriptors a
// large group takes (a group of 1000 costs four barriers instead of one).
constexpr std::size_t max_unnamed_open = 256;

}  // namespace

file_store::file_store(std::string dir, file_write_method method) : dir_(std::move(dir)), method_(method) {
    if (dir_.empty()) throw service_error("file store: empty directory name", false);
    while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
    mkdir_p(dir_);
    auto dfd = open_dir(dir_);
    clean_stale_temps(dfd.get());

    // Fail at start-up, not at the first task, if results could never be stored here.
    std::string probe = ".pfo3-probe" + std::string(temp_marker) + random_suffix();
    unique_fd pfd(::openat(dfd.get(), probe.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0640));
    if (!pfd) {
        int e = errno;
        throw service_error("file store: result directory " + dir_ + " is not writable: " +
                                std::system_category().message(e),
                            false);
    }
    pfd.reset();
    if (method_ != file_write_method::named_temp) {
        ::unlinkat(dfd.get(), probe.c_str(), 0);
        const int e = probe_unnamed(dfd.get());
        if (e != 0 && method_ == file_write_method::unnamed)
            throw service_error("file store: " + dir_ + " cannot hold unnamed files (O_TMPFILE + linkat): " +
                                    std::system_category().message(e),
                                false);
        method_ = e == 0 ? file_write_method::unnamed : file_write_method::named_temp;
        if (method_ == file_write_method::unnamed) return;
        pfd.reset(::openat(dfd.get(), probe.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0640));
        if (!pfd) fail_fatal("create", dir_ + "/" + probe, errno);
        pfd.reset();
    }
    // Named temps reach their names without replacing anything: the directory must allow it.
    const std::string moved = ".pfo3-probe-move" + std::string(temp_marker) + random_suffix();
    const int e = move_no_replace(dfd.get(), probe, moved);
    ::unlinkat(dfd.get(), (e == 0 ? moved : probe).c_str(), 0);
    if (e != 0)
        throw service_error("file store: " + dir_ + " cannot move a file to a new name without replacing one "
                                "(renameat2 RENAME_NOREPLACE, or linkat): " + std::system_category().message(e),
                            false);
}

void file_store::write(std::span<const task_record> records) {
    if (records.empty()) return;
    for (const auto& r : records) check_record_id(r.id);
    // One record per id: two of one id in a group would race for its name.
    const auto rows = newest_per_id(records);
    std::vector<std::string> bodies;
    bodies.reserve(rows.size());
    for (const task_record* r : rows) {
        try {
            bodies.push_back(encode_record(*r));
        } catch (const std::invalid_argument& e) {
            throw record_rejected(std::string("file store: cannot encode ") + e.what(), r->id);
        }
    }
    auto dfd = open_dir(dir_);
    if (method_ == file_write_method::unnamed) write_unnamed(dfd.get(), rows, bodies);
    else write_named(dfd.get(), rows, bodies);
    // One barrier for the whole group: makes every name made above durable. Also when every
    // record was kept as stored: a retried group finds the names its failed try made, and
    // those are durable only after this.
    if (::fsync(dfd.get()) != 0) fail("fsync directory", dir_, errno);
}

// Write every record into an unnamed inode, flush them all with one barrier, link each to its
// name. A crash before the links leaves nothing behind (the kernel frees unnamed inodes); the
// data is on disk before any name points at it. One directory operation per new record; an
// existing one is read and replaced (a link to a temp name, then a rename) only by a newer one.
void file_store::write_unnamed(int dir_fd, std::span<const task_record* const> rows,
                               const std::vector<std::string>& bodies) {
    std::vector<unique_fd> open_files;
    for (std::size_t start = 0; start < rows.size(); start += max_unnamed_open) {
        const std::size_t end = std::min(rows.size(), start + max_unnamed_open);
        open_files.clear();
        for (std::size_t i = start; i < end; ++i) {
            unique_fd fd(::openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0640));
            if (!fd) fail("create an unnamed file in", dir_, errno);
            write_all(fd.get(), bodies[i], dir_ + "/" + rows[i]->id + ".json (unnamed)", rows[i]->id);
            open_files.push_back(std::move(fd));
        }
        if (open_files.size() == 1) {
            // One file: its own fsync is cheaper than flushing the whole file system.
            if (::fsync(open_files[0].get()) != 0) fail("fsync", dir_ + "/" + rows[start]->id + ".json", errno);
        } else if (::syncfs(dir_fd) != 0) {
            fail("syncfs", dir_, errno);
        }
        for (std::size_t i = start; i < end; ++i) {
            const std::string& id = rows[i]->id;
            const std::string name = id + ".json";
            // linkat() through /proc/self/fd works without the privilege AT_EMPTY_PATH needs.
            char proc[40];
            std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", open_files[i - start].get());
            auto link_new = [&] {
                if (::linkat(AT_FDCWD, proc, dir_fd, name.c_str(), AT_SYMLINK_FOLLOW) == 0) return true;
                if (errno != EEXIST) fail_record("link " + name + " in", dir_, errno, id);
                return false;
            };
            // linkat never replaces a name: the data gets a temp name first, then is renamed.
            auto replace = [&] {
                const std::string tmp = temp_name(id);
                if (::linkat(AT_FDCWD, proc, dir_fd, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0)
                    fail_record("link " + tmp + " in", dir_, errno, id);
                if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
                    const int e = errno;
                    ::unlinkat(dir_fd, tmp.c_str(), 0);
                    fail("rename to " + name, dir_ + "/" + tmp, e);
                }
            };
            place(dir_fd, dir_, *rows[i], link_new, replace);
        }
    }
}

// Three steps so a group costs two disk barriers, not one per record: write every temp
// file, flush them all with one syncfs(), move them into place (the caller fsyncs the
// directory). A crash before the moves leaves only temp files (ignored, cleaned at
// start-up); the data is on disk before any name points at it.
void file_store::write_named(int dir_fd, std::span<const task_record* const> rows,
                             const std::vector<std::string>& bodies) {
    std::vector<std::string> temps;
    temps.reserve(rows.size());
    auto remove_temps = [&] {
        for (const auto& t : temps)
            if (!t.empty()) ::unlinkat(dir_fd, t.c_str(), 0);
    };
    try {
        for (std::size_t i = 0; i < rows.size(); ++i) {
            std::string tmp = temp_name(rows[i]->id);
            std::string tmp_path = dir_ + "/" + tmp;
            unique_fd fd(::openat(dir_fd, tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0640));
            if (!fd) fail_record("create", tmp_path, errno, rows[i]->id);
            temps.push_back(std::move(tmp));
            write_all(fd.get(), bodies[i], tmp_path, rows[i]->id);
            if (rows.size() == 1) {
                // One file: its own fsync is cheaper than flushing the whole file system.
                if (::fsync(fd.get()) != 0) fail("fsync", tmp_path, errno);
            }
            if (fd.close() != 0) fail("close", tmp_path, errno);
        }
        if (rows.size() > 1 && ::syncfs(dir_fd) != 0) fail("syncfs", dir_, errno);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const std::string& id = rows[i]->id;
            const std::string name = id + ".json";
            auto link_new = [&] {
                const int e = move_no_replace(dir_fd, temps[i], name);
                if (e == EEXIST) return false;
                if (e != 0) fail_record("move to " + name, dir_ + "/" + temps[i], e, id);
                temps[i].clear();
                return true;
            };
            auto replace = [&] {
                if (::renameat(dir_fd, temps[i].c_str(), dir_fd, name.c_str()) != 0)
                    fail("rename to " + name, dir_ + "/" + temps[i], errno);
                temps[i].clear();
            };
            place(dir_fd, dir_, *rows[i], link_new, replace);
        }
    } catch (...) {
        remove_temps();
        throw;
    }
    remove_temps();  // of records kept as stored
}

std::optional<task_record> file_store::read(std::string_view id) {
    check_id(id);
    const std::string path = dir_ + "/" + std::string(id) + ".json";
    auto text = read_text_at(AT_FDCWD, path, path);
    if (!text) return std::nullopt;
    task_record r;
    std::string why;
    if (!decode_record(*text, r, why))
        throw service_error("file store: corrupt record " + path + ": " + why, false);
    if (r.id != id)
        throw service_error("file store: corrupt record " + path + ": it holds id " + shown_id(r.id), false);
    return r;
}

std::vector<pending_cancel> file_store::pending_cancels(std::size_t limit) {
    // A scan: the file store keeps no index (decision 0015). The status is looked for as text
    // first, so only the few records that may be a pending cancel are decoded.
    unique_fd dir_fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) fail("open", dir_, errno);
    const int listed = ::fcntl(dir_fd.get(), F_DUPFD_CLOEXEC, 0);
    if (listed < 0) fail("list", dir_, errno);
    DIR* d = ::fdopendir(listed);  // owns `listed` once it succeeds
    if (!d) {
        const int e = errno;
        ::close(listed);
        fail("list", dir_, e);
    }
    std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
    std::vector<pending_cancel> out;
    constexpr std::string_view suffix = ".json";
    constexpr std::string_view needle = "\"status\":\"cancel_requested\"";
    errno = 0;
    while (dirent* e = ::readdir(d)) {
        const std::string_view name(e->d_name);
        if (out.size() >= limit) break;
        if (!name.ends_with(suffix) || is_temp_name(e->d_name)) continue;
        const std::string_view id = name.substr(0, name.size() - suffix.size());
        if (!is_valid_task_id(id)) continue;
        std::optional<std::string> text;
        try {
            text = read_text_at(dir_fd.get(), std::string(name), dir_ + "/" + std::string(name));
        } catch (const service_error& err) {
            PFO3_LOG(warn, "file store: skipped an unreadable file while listing pending cancels",
                     {{"path", dir_ + "/" + std::string(name)}, {"error", err.what()}});
            continue;
        }
        if (!text || text->find(needle) == std::string::npos) continue;
        task_record r;
        std::string why;
        if (decode_record(*text, r, why) && r.id == id && r.status == task_status::cancel_requested)
            out.push_back({std::move(r.id), std::move(r.error)});
        errno = 0;
    }
    if (errno != 0) fail("list", dir_, errno);
    return out;
}

std::string file_store::describe() const { return "file://" + dir_; }

}  // namespace pfo3::store
