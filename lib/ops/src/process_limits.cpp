#include "pfo3/ops/process_limits.hpp"

#include <pthread.h>
#include <sys/resource.h>

#include <cerrno>
#include <ctime>
#include <limits>
#include <string>

#include "pfo3/core/log.hpp"

namespace pfo3::ops {

std::size_t raise_descriptor_limit(std::size_t connections) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &lim);  // checked below through the value read back
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur == RLIM_INFINITY) return std::numeric_limits<std::size_t>::max();
    constexpr std::size_t reserve = 64;  // broker connection, store, logs, listening socket
    if (lim.rlim_cur < connections + reserve)
        PFO3_LOG(warn, "descriptor limit is below serve.max_connections; connections past it are refused",
                 {{"limit", std::to_string(lim.rlim_cur)}, {"max_connections", std::to_string(connections)}});
    return static_cast<std::size_t>(lim.rlim_cur);
}

sigset_t block_stop_signals() {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    return stop_signals;
}

bool wait_stop_signal(const sigset_t& set, std::chrono::milliseconds timeout, int& sig) {
    while (true) {
        if (timeout.count() < 0) {
            if (sigwait(&set, &sig) == 0) return true;
            continue;
        }
        timespec ts{static_cast<std::time_t>(timeout.count() / 1000),
                    static_cast<long>((timeout.count() % 1000) * 1000000)};
        int r = sigtimedwait(&set, nullptr, &ts);
        if (r > 0) {
            sig = r;
            return true;
        }
        if (errno == EAGAIN) return false;
        // EINTR: another signal; wait again.
    }
}

}  // namespace pfo3::ops
