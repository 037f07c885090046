#pragma once
// The latest dead letters for the status page, kept from the last `dead_list` answer: the page
// refreshes every few seconds, and a listing is a round trip to the broker, so serve asks at
// most once a period (and never twice at once) and the page reads the copy. The role hands in
// how to ask (serve's dead-letter desk); the answer may come from any thread, even after this
// object is gone (it only touches the shared state). The lister may refer to what the role
// owns: stop() drops it before that goes away. Thread-safe.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace pfo3::sight {

class dead_letter_cache {
public:
    /// Asks for a dead_list answer line ({"ok":true,...,"letters":[…]}); `done` from any thread.
    using lister = std::function<void(std::function<void(std::string line)> done)>;

    dead_letter_cache(lister list, std::chrono::steady_clock::duration period);

    /// Asks again if a period passed since the last ask and no answer is awaited, or six
    /// periods passed with none (call it from the role's ticker).
    void tick(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
    /// Never asks again and drops the lister, after waiting for a tick() inside it to return:
    /// call it before what the lister refers to (the desk) is destroyed. Idempotent.
    void stop();
    /// The letters of the last good answer as a JSON array; "null" before the first.
    std::string json() const;

private:
    struct state;
    std::shared_ptr<state> state_;
};

}  // namespace pfo3::sight
