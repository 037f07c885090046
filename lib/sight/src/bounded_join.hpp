#pragma once
// Stopping a thread that owns a broker connection or a store handle: join it when it ends within
// a grace period, detach it only when it is stuck (on a hung broker or store). A joined thread
// has run its thread-exit clean-up: OpenSSL frees the thread's random generators there, and a
// thread still running when the process exits leaks them (LeakSanitizer reports ~9 KiB per
// amqps:// thread). Private to the sight module.
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace pfo3::sight {

/// How long stop() waits for a thread that was told to stop.
inline constexpr std::chrono::seconds stop_grace{2};

/// `body` wrapped so that, once it returned (its locals destroyed), `st.finished` is set under
/// `st.mu` and `st.wake` notified. State: a struct with mu, wake and bool finished.
template <typename State, typename Body>
auto signalling_end(std::shared_ptr<State> st, Body body) {
    return [st = std::move(st), body = std::move(body)]() mutable {
        struct mark {
            State& s;
            ~mark() {
                {
                    std::lock_guard lk(s.mu);
                    s.finished = true;
                }
                s.wake.notify_all();
            }
        } on_end{*st};
        body();
    };
}

/// Joins `t` if its body (wrapped by signalling_end with `st`) ends within `grace`, else detaches
/// it; the thread owns what it uses, so a detached one harms nothing but the leak check.
template <typename State>
void join_within(std::thread& t, State& st, std::chrono::milliseconds grace) {
    if (!t.joinable()) return;
    std::unique_lock lk(st.mu);
    const bool ended = st.wake.wait_for(lk, grace, [&st] { return st.finished; });
    lk.unlock();
    if (ended)
        t.join();
    else
        t.detach();
}

}  // namespace pfo3::sight
