#include "pfo3/store/file_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstdint>
#include <random>
#include <ctime>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "pfo3/core/error.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/store/record_codec.hpp"
#include "pfo3/core/unique_fd.hpp"

namespace pfo3::store {

namespace {

using pfo3::unique_fd;

// Larger than any record a worker writes (a 16 MiB handler output, escaped), so only a
// foreign or damaged file hits it.
constexpr off_t max_record_bytes = off_t{128} << 20;
// Temp files younger than this may belong to another worker sharing the directory.
constexpr std::time_t stale_temp_age_s = 60;
constexpr std::string_view temp_marker = ".json.tmp.";

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
    return name.size() > 1 && name[0] == '.' && name.find(temp_marker) != std::string_view::npos;
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

void write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write", path, errno);
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

// Gives an O_TMPFILE inode its name. linkat() through /proc/self/fd works without the
// privilege AT_EMPTY_PATH needs. It never replaces a name, so an existing result (an earlier
// run of the same task) is replaced the way rename() does it, atomically.
void link_into_place(int dir_fd, int fd, const std::string& dir, const std::string& id) {
    char proc[40];
    std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    const std::string name = id + ".json";
    if (::linkat(AT_FDCWD, proc, dir_fd, name.c_str(), AT_SYMLINK_FOLLOW) == 0) return;
    if (errno != EEXIST) fail("link " + name + " in", dir, errno);
    const std::string tmp = "." + id + std::string(temp_marker) + random_suffix();
    if (::linkat(AT_FDCWD, proc, dir_fd, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0) fail("link " + tmp + " in", dir, errno);
    if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
        const int e = errno;
        ::unlinkat(dir_fd, tmp.c_str(), 0);
        fail("rename to " + name, dir + "/" + tmp, e);
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
    ::unlinkat(dfd.get(), probe.c_str(), 0);

    if (method_ != file_write_method::named_temp) {
        const int e = probe_unnamed(dfd.get());
        if (e != 0 && method_ == file_write_method::unnamed)
            throw service_error("file store: " + dir_ + " cannot hold unnamed files (O_TMPFILE + linkat): " +
                                    std::system_category().message(e),
                                false);
        method_ = e == 0 ? file_write_method::unnamed : file_write_method::named_temp;
    }
}

void file_store::write(std::span<const task_record> records) {
    if (records.empty()) return;
    std::vector<std::string> bodies;
    bodies.reserve(records.size());
    for (const auto& r : records) {
        check_id(r.id);
        try {
            bodies.push_back(encode_record(r));
        } catch (const std::invalid_argument& e) {
            throw service_error(std::string("file store: cannot encode ") + e.what(), false);
        }
    }
    auto dfd = open_dir(dir_);
    if (method_ == file_write_method::unnamed) write_unnamed(dfd.get(), records, bodies);
    else write_named(dfd.get(), records, bodies);
    // One barrier for the whole group: makes every name made above durable.
    if (::fsync(dfd.get()) != 0) fail("fsync directory", dir_, errno);
}

// Write every record into an unnamed inode, flush them all with one barrier, link each to its
// name. A crash before the links leaves nothing behind (the kernel frees unnamed inodes); the
// data is on disk before any name points at it. One directory operation per record.
void file_store::write_unnamed(int dir_fd, std::span<const task_record> records,
                               const std::vector<std::string>& bodies) {
    std::vector<unique_fd> open_files;
    for (std::size_t start = 0; start < records.size(); start += max_unnamed_open) {
        const std::size_t end = std::min(records.size(), start + max_unnamed_open);
        open_files.clear();
        for (std::size_t i = start; i < end; ++i) {
            unique_fd fd(::openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0640));
            if (!fd) fail("create an unnamed file in", dir_, errno);
            write_all(fd.get(), bodies[i], dir_ + "/" + records[i].id + ".json (unnamed)");
            open_files.push_back(std::move(fd));
        }
        if (open_files.size() == 1) {
            // One file: its own fsync is cheaper than flushing the whole file system.
            if (::fsync(open_files[0].get()) != 0) fail("fsync", dir_ + "/" + records[start].id + ".json", errno);
        } else if (::syncfs(dir_fd) != 0) {
            fail("syncfs", dir_, errno);
        }
        for (std::size_t i = start; i < end; ++i) link_into_place(dir_fd, open_files[i - start].get(), dir_, records[i].id);
    }
}

// Three steps so a group costs two disk barriers, not one per record: write every temp
// file, flush them all with one syncfs(), rename them into place (the caller fsyncs the
// directory). A crash before the renames leaves only temp files (ignored, cleaned at
// start-up); the data is on disk before any name points at it.
void file_store::write_named(int dir_fd, std::span<const task_record> records,
                             const std::vector<std::string>& bodies) {
    std::vector<std::string> temps;
    temps.reserve(records.size());
    auto remove_temps = [&] {
        for (const auto& t : temps)
            if (!t.empty()) ::unlinkat(dir_fd, t.c_str(), 0);
    };
    try {
        for (std::size_t i = 0; i < records.size(); ++i) {
            std::string tmp = "." + records[i].id + std::string(temp_marker) + random_suffix();
            std::string tmp_path = dir_ + "/" + tmp;
            unique_fd fd(::openat(dir_fd, tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0640));
            if (!fd) fail("create", tmp_path, errno);
            temps.push_back(std::move(tmp));
            write_all(fd.get(), bodies[i], tmp_path);
            if (records.size() == 1) {
                // One file: its own fsync is cheaper than flushing the whole file system.
                if (::fsync(fd.get()) != 0) fail("fsync", tmp_path, errno);
            }
            if (fd.close() != 0) fail("close", tmp_path, errno);
        }
        if (records.size() > 1 && ::syncfs(dir_fd) != 0) fail("syncfs", dir_, errno);
        for (std::size_t i = 0; i < records.size(); ++i) {
            std::string name = records[i].id + ".json";
            if (::renameat(dir_fd, temps[i].c_str(), dir_fd, name.c_str()) != 0)
                fail("rename to " + name, dir_ + "/" + temps[i], errno);
            temps[i].clear();
        }
    } catch (...) {
        remove_temps();
        throw;
    }
}

std::optional<task_record> file_store::read(std::string_view id) {
    check_id(id);
    std::string path = dir_ + "/" + std::string(id) + ".json";
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
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

    task_record r;
    std::string why;
    if (!decode_record(text, r, why))
        throw service_error("file store: corrupt record " + path + ": " + why, false);
    if (r.id != id)
        throw service_error("file store: corrupt record " + path + ": it holds id " + shown_id(r.id), false);
    return r;
}

std::string file_store::describe() const { return "file://" + dir_; }

}  // namespace pfo3::store
