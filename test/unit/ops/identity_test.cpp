#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "pfo3/ops/identity.hpp"

TEST_CASE("the process identity is the host name and the process id") {
    char host[256] = {};
    REQUIRE(gethostname(host, sizeof host - 1) == 0);
    CHECK(pfo3::ops::process_identity() == std::string(host) + ":" + std::to_string(getpid()));
}

TEST_CASE("a child process has its own identity") {
    const std::string parent = pfo3::ops::process_identity();
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const std::string mine = pfo3::ops::process_identity();
        ssize_t n = ::write(pipe_fds[1], mine.data(), mine.size());
        ::_exit(n == static_cast<ssize_t>(mine.size()) ? 0 : 1);
    }
    ::close(pipe_fds[1]);
    std::string child;
    char buf[300];
    for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) child.append(buf, static_cast<std::size_t>(n));
    ::close(pipe_fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(child != parent);
    CHECK(child.substr(child.rfind(':') + 1) == std::to_string(pid));
}
