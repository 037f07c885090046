#include "store_watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"

namespace pfo3::bench {

namespace {

using clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what, const std::string& dir, int e) {
    throw service_error("bench: " + what + " " + dir + ": " + std::system_category().message(e), false);
}

// "ID.json" → "ID"; temp files (".ID.json.tmp…", dot-prefixed) and anything else → empty.
std::string_view record_id(std::string_view name) {
    constexpr std::string_view suffix = ".json";
    if (name.empty() || name.front() == '.' || name.size() <= suffix.size() ||
        name.substr(name.size() - suffix.size()) != suffix)
        return {};
    return name.substr(0, name.size() - suffix.size());
}

}  // namespace

store_watch::store_watch(std::string dir, clock::time_point start) : result_watch(start), dir_(std::move(dir)) {
    struct stat st {};
    if (::stat(dir_.c_str(), &st) != 0) fail("cannot watch the result directory", dir_, errno);
    if (!S_ISDIR(st.st_mode)) fail("cannot watch the result directory", dir_, ENOTDIR);
    inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify_) fail("inotify_init1 for", dir_, errno);
    // The file store links a complete, flushed unnamed file to its name (IN_CREATE), or
    // renames a flushed temp file into place (IN_MOVED_TO; temp names start with '.' and are
    // skipped). A store writing in place would show up as IN_CLOSE_WRITE.
    if (::inotify_add_watch(inotify_.get(), dir_.c_str(), IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
        fail("inotify_add_watch on", dir_, errno);
    stop_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!stop_) fail("eventfd for watching", dir_, errno);
    thread_ = std::thread([this] { run(); });
}

store_watch::~store_watch() {
    std::uint64_t one = 1;
    ssize_t n = ::write(stop_.get(), &one, sizeof one);
    (void)n;
    if (thread_.joinable()) thread_.join();
}

void store_watch::run() {
    // Large enough for thousands of events per read; events are at most NAME_MAX+17 bytes.
    alignas(inotify_event) char buf[256 * 1024];
    std::vector<std::pair<std::string, clock::time_point>> batch;
    for (;;) {
        pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            PFO3_LOG(error, "bench: poll on the store watch failed; results are no longer seen",
                     {{"error", std::strerror(errno)}});
            mark_overflowed();
            return;
        }
        // Drain what already arrived before stopping, so late take() calls still see it.
        const bool stopping = fds[1].revents & POLLIN;
        for (;;) {
            ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
            if (n <= 0) break;
            const auto now = clock::now();
            bool overflow = false;
            for (char* p = buf; p < buf + n;) {
                auto* ev = reinterpret_cast<inotify_event*>(p);
                if (ev->mask & IN_Q_OVERFLOW) overflow = true;
                if (ev->len > 0) {
                    auto id = record_id(ev->name);
                    if (!id.empty()) batch.emplace_back(std::string(id), now);
                }
                p += sizeof(inotify_event) + ev->len;
            }
            if (overflow) mark_overflowed();
            add(batch);
        }
        if (stopping) return;
    }
}

bool store_watch::present(const std::string& id) const {
    struct stat st {};
    return ::stat((dir_ + "/" + id + ".json").c_str(), &st) == 0;
}

}  // namespace pfo3::bench
