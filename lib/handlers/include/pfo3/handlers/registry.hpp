#pragma once
// What a worker runs for a task type: built-ins (echo, sum/sumar, multiply/multiplicar,
// sleep) and external commands from [handlers.NAME].
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "pfo3/core/task.hpp"
#include "pfo3/handlers/stop_request.hpp"

namespace pfo3::handlers {

/// The outcome of running one task.
struct outcome {
    enum class kind {
        done,       ///< result_json holds the result
        failed,     ///< may succeed if tried again (non-zero exit, timeout, crash)
        permanent,  ///< never will (unknown type, invalid payload): dead at once
        cancelled,  ///< stopped by a cancel (stop_request); error holds its text; never retried
    };
    kind status = kind::done;
    std::string result_json = "null";
    std::string error;  ///< human text when not done
    bool timed_out = false;  ///< failed because the handler hit its time limit
};

/// An external handler: argv, how long one run may take before its process group is killed,
/// and what of the environment it gets.
///
/// How it runs: argv[0] is looked up in PATH unless it contains '/'; it gets its own process
/// group, the task's payload JSON on stdin and a clean environment: PATH, LANG, HOME and TZ
/// when the worker has them, then `env` in order ("NAME" passes the worker's NAME if it is
/// set, "NAME=VALUE" sets it; a later entry replaces an earlier one), then PFO3_TASK_ID,
/// PFO3_TASK_TYPE and PFO3_TASK_ATTEMPT. Nothing else of the worker's environment (its
/// PFO3_*, AWS_*, PG* secrets) reaches it; config refuses to list those by bare name. Its
/// stdout, trailing whitespace trimmed, is the result (as is if it is JSON, else as a JSON
/// string); more than 16 MiB of it is a failure. Exit status 0 is success; a non-zero status,
/// a signal or the timeout is a failure whose text ends with the last lines of stderr. When it
/// exits (or times out), whatever is left in its process group is killed.
struct external_command {
    external_command() = default;
    external_command(std::vector<std::string> argv_, std::chrono::milliseconds timeout_,
                     std::vector<std::string> env_ = {})
        : argv(std::move(argv_)), timeout(timeout_), env(std::move(env_)) {}

    std::vector<std::string> argv;
    std::chrono::milliseconds timeout{30000};
    std::vector<std::string> env;
};

/// Maps types to handlers. Immutable after construction, so run() is thread-safe.
class registry {
public:
    /// External commands override built-ins of the same name.
    explicit registry(std::map<std::string, external_command> external = {});
    /// True if `type` names a built-in or an external handler.
    bool knows(const std::string& type) const;
    /// True if `type` is a built-in that computes its result at once from the payload (echo,
    /// sum/sumar, multiply/multiplicar; not sleep) and no external handler replaces it: a
    /// worker may run it on the thread that decoded the delivery instead of handing it over.
    /// Such a built-in is a pure function of the payload, so running it again gives the same.
    bool runs_inline(const std::string& type) const;
    /// Runs the handler for t.type on t.payload_json. Never throws for task-level problems:
    /// they come back as failed/permanent outcomes. A non-zero t.timeout_ms shorter than the
    /// external command's timeout replaces it (a client may ask for less, never more); it
    /// bounds built-ins as given: `sleep` longer than it fails as a timeout. `stop` (may be
    /// null) stops an external handler (SIGTERM to its group, SIGKILL after the grace):
    /// outcome `cancelled`. Built-ins do not look at it; they finish.
    outcome run(const task& t, const stop_request* stop = nullptr) const;

private:
    std::map<std::string, external_command> external_;
};

}  // namespace pfo3::handlers
