#include "external_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string_view>
#include <system_error>
#include <vector>

#include "pfo3/core/unique_fd.hpp"
#include "pfo3/handlers/stop_request.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/text.hpp"

namespace pfo3::handlers::detail {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t max_stdout = std::size_t{16} << 20;
constexpr std::size_t max_stderr = std::size_t{64} << 10;
constexpr std::size_t stderr_tail_in_error = 2048;
constexpr std::size_t io_chunk = 64 << 10;

std::string sys_message(int e) { return std::system_category().message(e); }

outcome failed(std::string why) {
    outcome o;
    o.status = outcome::kind::failed;
    o.result_json = "null";
    o.error = json::valid_utf8(why);
    return o;
}

// Blocks SIGPIPE in this thread while we write to a child's stdin, so a child that exits
// without reading gives EPIPE instead of killing the worker; on exit it swallows the SIGPIPE
// our own writes raised (not one that was already pending) and restores the mask.
class sigpipe_guard {
public:
    sigpipe_guard() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGPIPE);
        sigset_t pending;
        sigemptyset(&pending);
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &set_, &old_);
    }
    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;
    ~sigpipe_guard() {
        if (!was_pending_) {
            timespec zero{};
            while (sigtimedwait(&set_, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }

private:
    sigset_t set_;
    sigset_t old_;
    bool was_pending_ = false;
};

class spawn_actions {
public:
    spawn_actions() { posix_spawn_file_actions_init(&fa_); }
    spawn_actions(const spawn_actions&) = delete;
    spawn_actions& operator=(const spawn_actions&) = delete;
    ~spawn_actions() { posix_spawn_file_actions_destroy(&fa_); }
    posix_spawn_file_actions_t* get() { return &fa_; }

private:
    posix_spawn_file_actions_t fa_;
};

class spawn_attr {
public:
    spawn_attr() { posix_spawnattr_init(&a_); }
    spawn_attr(const spawn_attr&) = delete;
    spawn_attr& operator=(const spawn_attr&) = delete;
    ~spawn_attr() { posix_spawnattr_destroy(&a_); }
    posix_spawnattr_t* get() { return &a_; }

private:
    posix_spawnattr_t a_;
};

struct pipe_ends {
    unique_fd read;
    unique_fd write;
};

int make_pipe(pipe_ends& p) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return errno;
    p.read.reset(fds[0]);
    p.write.reset(fds[1]);
    return 0;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Passed on from the worker when it has them; nothing else is, unless the handler's env lists
// it: the worker's own variables hold its secrets (PFO3_AMQP_URL, AWS_*, PG*).
constexpr std::string_view always_passed[] = {"PATH", "LANG", "HOME", "TZ"};

// Sets NAME=VALUE in `env`, replacing an earlier value of NAME.
void set_variable(std::vector<std::string>& env, std::string_view name, std::string_view value) {
    std::string entry(name);
    entry += '=';
    auto same = [&](const std::string& e) { return e.starts_with(entry); };
    env.erase(std::remove_if(env.begin(), env.end(), same), env.end());
    entry += value;
    env.push_back(std::move(entry));
}

// The child's environment: always_passed, then the handler's list in order ("NAME" passes the
// worker's value if it has one, "NAME=VALUE" sets it), then what it needs to know of its task.
std::vector<std::string> child_environment(const external_command& cmd, const task& t) {
    std::vector<std::string> env;
    auto pass = [&](const std::string& name) {
        if (const char* value = std::getenv(name.c_str())) set_variable(env, name, value);
    };
    for (auto name : always_passed) pass(std::string(name));
    for (const auto& entry : cmd.env) {
        auto eq = entry.find('=');
        if (eq == std::string::npos)
            pass(entry);
        else
            set_variable(env, std::string_view(entry).substr(0, eq), std::string_view(entry).substr(eq + 1));
    }
    set_variable(env, "PFO3_TASK_ID", t.id);
    set_variable(env, "PFO3_TASK_TYPE", t.type);
    set_variable(env, "PFO3_TASK_ATTEMPT", std::to_string(t.attempt));
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

std::string_view trim_right(std::string_view s) {
    auto end = s.find_last_not_of(" \t\r\n\f\v");
    return end == std::string_view::npos ? std::string_view{} : s.substr(0, end + 1);
}

// The last lines of stderr, on one line, for the error text.
std::string stderr_tail(std::string_view err) {
    err = trim_right(err);
    if (err.size() > stderr_tail_in_error) {
        err = err.substr(err.size() - stderr_tail_in_error);
        auto nl = err.find('\n');
        if (nl != std::string_view::npos && nl + 1 < err.size()) err = err.substr(nl + 1);
    }
    std::string out;
    for (char c : err) {
        if (c == '\n')
            out += " | ";
        else if (c != '\r')
            out.push_back(c);
    }
    return out;
}

std::string with_tail(std::string what, std::string_view err) {
    auto tail = stderr_tail(err);
    if (!tail.empty()) what += ": " + tail;
    return what;
}

enum class read_result { data, empty, closed };

// Reads one chunk of what is available now: data, nothing yet (EAGAIN), or EOF / broken.
read_result read_some(int fd, std::string& buf) {
    char chunk[io_chunk];
    for (;;) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n > 0) {
            buf.append(chunk, static_cast<std::size_t>(n));
            return read_result::data;
        }
        if (n == 0) return read_result::closed;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? read_result::empty : read_result::closed;
    }
}

// Keeps only the newest bytes of stderr: the end is what explains a failure.
void bound_stderr(std::string& err) {
    if (err.size() > 2 * max_stderr) err.erase(0, err.size() - max_stderr);
}

// Owns a spawned child until it is reaped: if anything throws before then, the destructor
// kills its process group and reaps it, so no zombie and no stray process is left behind.
class child_process {
public:
    explicit child_process(pid_t pid) noexcept : pid_(pid) {}
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process() {
        if (pid_ > 0) {
            kill_group();
            while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
            }
        }
    }
    pid_t pid() const noexcept { return pid_; }
    /// SIGKILL to the whole group; safe until reaped, since the zombie keeps its pid taken.
    void kill_group() noexcept { ::kill(-pid_, SIGKILL); }
    /// Waits for the exit; -1 and errno if it cannot be known.
    int reap(int& status) noexcept {
        pid_t got;
        while ((got = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
        }
        if (got != pid_) return -1;
        pid_ = -1;
        return 0;
    }

private:
    pid_t pid_;
};

// Our ends of the handler's stdin, stdout and stderr, and (until it runs) the child's.
struct handler_pipes {
    pipe_ends in, out, err;

    // 0, or the errno of the pipe that could not be made.
    int open() {
        for (auto* p : {&in, &out, &err})
            if (int e = make_pipe(*p)) return e;
        return 0;
    }

    // Once the child runs: it holds its own copies; ours would keep its stdin open and our
    // reads from EOF. Our ends never block, so one slow pipe cannot stall the others.
    void close_child_ends() {
        in.read.reset();
        out.write.reset();
        err.write.reset();
        set_nonblocking(in.write.get());
        set_nonblocking(out.read.get());
        set_nonblocking(err.read.get());
    }
};

// Starts the handler with the pipes as its standard streams, in its own process group and with
// a clean signal state. 0, or the error of posix_spawnp (the command may not exist).
int spawn_handler(const external_command& cmd, const task& t, handler_pipes& pipes, pid_t& pid) {
    spawn_actions fa;
    posix_spawn_file_actions_adddup2(fa.get(), pipes.in.read.get(), 0);
    posix_spawn_file_actions_adddup2(fa.get(), pipes.out.write.get(), 1);
    posix_spawn_file_actions_adddup2(fa.get(), pipes.err.write.get(), 2);
    // Other threads may have opened descriptors without O_CLOEXEC (sockets of C libraries);
    // the handler must not hold them open.
    posix_spawn_file_actions_addclosefrom_np(fa.get(), 3);

    // Its own process group, so a timeout kills everything it started; a clean signal state,
    // since worker threads block signals and the process may ignore SIGPIPE.
    spawn_attr attr;
    posix_spawnattr_setflags(attr.get(),
                             POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(attr.get(), 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(attr.get(), &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGXFSZ})
        sigaddset(&defaults, s);
    posix_spawnattr_setsigdefault(attr.get(), &defaults);

    std::vector<std::string> args(cmd.argv.begin(), cmd.argv.end());
    auto argv = c_strings(args);
    auto env_strings = child_environment(cmd, t);
    auto envp = c_strings(env_strings);
    return ::posix_spawnp(&pid, argv[0], fa.get(), attr.get(), argv.data(), envp.data());
}

// How the exchange with a running handler ended.
enum class run_end { exited, timed_out, too_much_output, poll_failed, cancelled };

// Our side of a running handler's pipes: feeds the payload to its stdin and collects its
// stdout (up to max_stdout) and the newest of its stderr, never blocking on one pipe.
class handler_io {
public:
    handler_io(handler_pipes& pipes, std::string_view payload) : pipes_(pipes), payload_(payload) {
        if (payload_.empty()) pipes_.in.write.reset();
    }

    // Waits up to `wait_ms` for a pipe (or `pidfd` / `stopfd`, when valid) and moves what is
    // ready. false: poll failed (errno says why); true otherwise, also when nothing was ready.
    bool pump(int pidfd, int stopfd, int wait_ms) {
        pollfd fds[5];
        nfds_t n = 0;
        int i_in = -1, i_out = -1, i_err = -1;
        auto watch = [&](int fd, short events) {
            fds[n] = {fd, events, 0};
            return static_cast<int>(n++);
        };
        if (pipes_.in.write) i_in = watch(pipes_.in.write.get(), POLLOUT);
        if (pipes_.out.read) i_out = watch(pipes_.out.read.get(), POLLIN);
        if (pipes_.err.read) i_err = watch(pipes_.err.read.get(), POLLIN);
        if (pidfd >= 0) watch(pidfd, POLLIN);
        if (stopfd >= 0) watch(stopfd, POLLIN);  // the caller looks at the request itself
        int pr = ::poll(fds, n, wait_ms);
        if (pr < 0 && errno != EINTR) return false;
        if (pr <= 0) return true;
        if (i_in >= 0 && fds[i_in].revents) write_payload();
        if (i_out >= 0 && fds[i_out].revents) {
            if (read_some(pipes_.out.read.get(), out) == read_result::closed) pipes_.out.read.reset();
            if (too_much_output()) return true;
        }
        if (i_err >= 0 && fds[i_err].revents) {
            if (read_some(pipes_.err.read.get(), err) == read_result::closed) pipes_.err.read.reset();
            bound_stderr(err);
        }
        return true;
    }

    // After the exit: everything it wrote is in the pipes by now (a pipe holds at most its
    // buffer), so reading until empty gets it all.
    void drain() {
        while (pipes_.out.read && out.size() <= max_stdout &&
               read_some(pipes_.out.read.get(), out) == read_result::data) {
        }
        while (pipes_.err.read && read_some(pipes_.err.read.get(), err) == read_result::data) bound_stderr(err);
    }

    bool too_much_output() const noexcept { return out.size() > max_stdout; }

    std::string out;
    std::string err;

private:
    void write_payload() {
        ssize_t w = ::write(pipes_.in.write.get(), payload_.data() + written_,
                            std::min(io_chunk, payload_.size() - written_));
        if (w > 0) written_ += static_cast<std::size_t>(w);
        // EPIPE: the child closed its stdin without reading it all, its choice.
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written_ == payload_.size()) pipes_.in.write.reset();
    }

    handler_pipes& pipes_;
    std::string_view payload_;
    std::size_t written_ = 0;
};

// Exchanges data with the handler until it exits, the deadline passes, or its output grows
// past max_stdout. A stop request (a cancel) sends its process group SIGTERM and gives it the
// request's grace to exit; then (or once it exited) the end is `cancelled`, and the caller's
// SIGKILL to the group ends whatever is left, as after a timeout. poll_failed leaves errno set.
run_end exchange(handler_io& io, pid_t pid, int pidfd, clock_type::time_point deadline, const stop_request* stop) {
    bool terminated = false;
    for (;;) {
        if (stop && !terminated && stop->requested()) {
            terminated = true;
            ::kill(-pid, SIGTERM);  // the zombie, if it is one already, keeps the group id taken
            deadline = clock_type::now() + stop->grace();
        }
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now()).count();
        if (left <= 0) return terminated ? run_end::cancelled : run_end::timed_out;
        // A pidfd wakes poll() when the child exits even if a grandchild keeps the pipes open.
        // Without one (old kernel, seccomp) we look every few milliseconds instead.
        int wait_ms = static_cast<int>(std::min<long long>(left, pidfd >= 0 ? left : 10));
        if (!io.pump(pidfd, stop && !terminated ? stop->fd() : -1, wait_ms)) return run_end::poll_failed;
        if (io.too_much_output()) return terminated ? run_end::cancelled : run_end::too_much_output;
        // WNOWAIT leaves the zombie in place, so its pid (= the process group id) cannot be
        // reused before the group is killed.
        siginfo_t si{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
            return terminated ? run_end::cancelled : run_end::exited;
    }
}

// The outcome of a reaped handler: failed with the reason and the tail of its stderr, or done
// with its stdout as the result (quoted as a JSON string when it is not JSON).
outcome judge(const external_command& cmd, run_end end, int status, const handler_io& io, const stop_request* stop) {
    if (end == run_end::cancelled) {
        outcome o;
        o.status = outcome::kind::cancelled;
        o.result_json = "null";
        o.error = stop ? stop->why() : std::string("cancelled");
        return o;
    }
    if (end == run_end::timed_out) {
        auto o = failed(with_tail("timed out after " + std::to_string(cmd.timeout.count()) + " ms", io.err));
        o.timed_out = true;
        return o;
    }
    if (end == run_end::too_much_output || io.too_much_output())
        return failed(with_tail("output exceeds " + std::to_string(max_stdout >> 20) + " MiB", io.err));
    if (WIFSIGNALED(status)) {
        const char* name = sigabbrev_np(WTERMSIG(status));
        return failed(with_tail("killed by signal " + (name ? "SIG" + std::string(name)
                                                            : std::to_string(WTERMSIG(status))),
                                io.err));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return failed(with_tail("exit status " + std::to_string(WEXITSTATUS(status)), io.err));

    outcome o;
    auto text = trim_right(io.out);
    // Repaired before quoting so that the replacement stays U+FFFD itself, not an escape.
    o.result_json = json::is_valid_json(text) ? std::string(text) : json::quote(json::valid_utf8(text));
    return o;
}

}  // namespace

outcome run_external(const external_command& cmd, const task& t, const stop_request* stop) {
    if (cmd.argv.empty() || cmd.argv[0].empty()) return failed("the handler's command is empty");

    handler_pipes pipes;
    if (int e = pipes.open()) return failed("cannot create a pipe: " + sys_message(e));
    pid_t pid = -1;
    if (int rc = spawn_handler(cmd, t, pipes, pid))
        return failed("cannot run '" + cmd.argv[0] + "': " + sys_message(rc));
    child_process child(pid);
    pipes.close_child_ends();
    unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

    sigpipe_guard no_sigpipe;
    handler_io io(pipes, t.payload_json);
    const run_end end = exchange(io, pid, pidfd ? pidfd.get() : -1, clock_type::now() + cmd.timeout, stop);
    if (end == run_end::poll_failed) return failed("poll on the handler's pipes: " + sys_message(errno));
    if (end == run_end::exited || end == run_end::cancelled) io.drain();
    // Also after a normal exit: whatever the handler left running in its group would outlive
    // the task and could hold its pipes; a task's processes end with the task.
    child.kill_group();
    int status = 0;
    if (child.reap(status) != 0) return failed("lost the handler's exit status: " + sys_message(errno));
    return judge(cmd, end, status, io, stop);
}

}  // namespace pfo3::handlers::detail
