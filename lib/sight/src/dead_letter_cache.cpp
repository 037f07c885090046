#include "pfo3/sight/dead_letter_cache.hpp"

#include <mutex>

#include "pfo3/core/log.hpp"
#include "pfo3/json/value.hpp"

namespace pfo3::sight {

struct dead_letter_cache::state {
    // Held while the lister runs, so stop() cannot drop it (and what it refers to) midway. Not
    // `mu`: the lister may answer at once, on this thread, and the answer takes `mu`.
    std::mutex calling;
    lister list;  // guarded by calling; empty once stopped
    std::chrono::steady_clock::duration period;
    mutable std::mutex mu;
    std::string letters = "null";  // guarded by mu
    bool asking = false;           // guarded by mu
    std::chrono::steady_clock::time_point last{};
};

dead_letter_cache::dead_letter_cache(lister list, std::chrono::steady_clock::duration period)
    : state_(std::make_shared<state>()) {
    state_->list = std::move(list);
    state_->period = period;
}

void dead_letter_cache::tick(std::chrono::steady_clock::time_point now) {
    {
        std::lock_guard lk(state_->mu);
        const bool asked = state_->last != std::chrono::steady_clock::time_point{};
        // An answer lost on the way (a desk stopping) must not stop the asking for good.
        if (asked && now - state_->last < (state_->asking ? 6 * state_->period : state_->period)) return;
        state_->asking = true;
        state_->last = now;
    }
    std::lock_guard calling(state_->calling);
    if (!state_->list) return;
    state_->list([st = state_](std::string&& line) {
        std::string why, letters;
        auto doc = json::parse(line, why, 16);
        const auto ok = doc ? doc->root().find("ok") : std::nullopt;
        const auto list = doc ? doc->root().find("letters") : std::nullopt;
        if (ok && ok->is(json::kind::boolean) && ok->boolean() && list && list->is(json::kind::array))
            letters = list->compact();
        else
            PFO3_LOG(debug, "status page: no dead-letter listing this time", {{"answer", line.substr(0, 200)}});
        std::lock_guard lk(st->mu);
        st->asking = false;
        if (!letters.empty()) st->letters = std::move(letters);  // else keep the last good one
    });
}

void dead_letter_cache::stop() {
    lister dropped;
    {
        std::lock_guard calling(state_->calling);
        dropped.swap(state_->list);
    }
}

std::string dead_letter_cache::json() const {
    std::lock_guard lk(state_->mu);
    return state_->letters;
}

}  // namespace pfo3::sight
