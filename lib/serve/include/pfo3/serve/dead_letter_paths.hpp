#pragma once
// Where `pfo3 dead` reaches the dead letters: through serve's dead_* ops (the default) or
// straight to the broker (--direct). Both give queue::dead_letters' structs, so the command
// prints them one way (decision 0016). A path is used on one thread.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pfo3/net/client.hpp"
#include "pfo3/queue/dead_letters.hpp"

namespace pfo3::serve {

/// serve refused a dead-letter request (or answered what is no answer): its wire code
/// ("forbidden", "unavailable", "bad_request", ..., "bad_response") and message.
class dead_letter_refusal : public std::runtime_error {
public:
    dead_letter_refusal(std::string code, const std::string& message)
        : std::runtime_error(message), code_(std::move(code)) {}
    const std::string& code() const { return code_; }

private:
    std::string code_;
};

class dead_letter_path {
public:
    /// Hears the ids just moved, in order, and the letters left (0: not known).
    using progress = std::function<void(const std::vector<std::string>& moved, std::uint32_t left)>;
    virtual ~dead_letter_path() = default;
    /// The first `limit` letters (0: all; through serve at most json::max_dead_limit).
    virtual queue::dead_listing list(std::size_t limit, std::string& dead_queue) = 0;
    virtual queue::requeue_report requeue(const queue::dead_selection& which, std::string& task_queue,
                                          const progress& moved) = 0;
    virtual queue::purge_report purge(const queue::dead_selection& which, std::string& dead_queue) = 0;
};

/// Through serve at HOST:PORT. Connecting throws service_error (config_error for a refused
/// token); a refused request throws dead_letter_refusal. `requeue` of all letters goes in
/// requests of `batch`, never asking for more than were dead at its start.
std::unique_ptr<dead_letter_path> dead_letters_through_serve(const std::string& server, const net::client_options& o,
                                                             std::size_t batch = 100);
/// Straight to the broker (queue::dead_letters on this thread); throws service_error.
std::unique_ptr<dead_letter_path> dead_letters_direct(const queue::amqp_url& url, const queue::topology& topo,
                                                      std::chrono::milliseconds confirm_timeout);

}  // namespace pfo3::serve
