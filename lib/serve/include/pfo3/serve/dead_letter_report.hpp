#pragma once
// `pfo3 dead list|requeue|purge` printed: the same lines whichever path reached the letters
// (dead_letter_paths.hpp). Letters and ids on `out`, counts and problems on `err`.
#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "pfo3/serve/dead_letter_paths.hpp"

namespace pfo3::serve {

/// One action of `pfo3 dead` and its arguments.
struct dead_action {
    std::string action;            ///< "list", "requeue" or "purge"
    std::size_t limit = 100;       ///< list: at most this many (0: all; through serve at most 1000)
    bool json = false;             ///< list: one message body per line
    std::vector<std::string> ids;  ///< requeue, purge: these ids
    bool all = false;              ///< requeue: every dead letter
    bool yes = false;              ///< purge: really
};

/// How the action ended; app/ turns it into the exit status.
enum class dead_outcome {
    done,                 ///< everything asked for was done
    some_left,            ///< some letters could not be requeued, or named ids were not there
    refused_without_yes,  ///< purge without --yes: nothing deleted
    stopped,              ///< a requeue stopped midway (the broker refused a copy)
};

/// Runs `a` on `p` and prints what happened. `terminal`: `err` is a terminal, so a requeue
/// shows its progress there. Throws what the path throws.
dead_outcome run_dead_action(dead_letter_path& p, const dead_action& a, std::ostream& out, std::ostream& err,
                             bool terminal);

}  // namespace pfo3::serve
