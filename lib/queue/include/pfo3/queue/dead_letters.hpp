#pragma once
// The operator's actions on `<queue>.dead`: list, requeue, purge (by id or all). One code
// path for `pfo3 dead --direct`, serve's dead_* ops and the status page's buttons.
//
// A dead_letters object owns its AMQP connections and is used on one thread only (decision
// 0002): serve gives it a worker thread of its own, the CLI uses it on its main thread.
//
// Nothing is lost when the broker goes away midway: a letter is acked in `<queue>.dead` only
// after the broker confirmed its copy in the task queue. Copy confirmed, ack lost: the task is
// in both queues (the upserting store and the "requeues" counter absorb the duplicate). No
// confirm: the letter stays dead (and may also be queued). Letters taken and not acked go back
// to their original positions when the connection closes.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pfo3/queue/amqp_url.hpp"
#include "pfo3/queue/dead_letter.hpp"
#include "pfo3/queue/topology.hpp"

namespace pfo3::queue {

/// Which dead letters an action takes: every one, or those with these ids.
struct dead_selection {
    bool all = false;
    std::vector<std::string> ids;  ///< when !all (the caller bounds how many)
    bool selects(std::string_view id) const;
};

/// Bounds of a listing: letters, bytes of each body kept, bytes of all bodies together.
struct dead_list_bounds {
    std::size_t count = 100;                   ///< 0: no bound (serve always gives one)
    std::size_t body_bytes = SIZE_MAX;         ///< longer bodies are cut (body_cut)
    std::size_t total_bytes = SIZE_MAX;        ///< the listing stops before passing this
};

/// One listed letter: its summary and its body as one line of JSON, perhaps cut.
struct listed_letter {
    dead_letter_summary summary;
    std::string body;            ///< dead_letter_json_line(), cut to body_bytes on a UTF-8 boundary
    bool body_cut = false;
    std::size_t body_size = 0;   ///< bytes of the whole one-line body
};

struct dead_listing {
    std::uint32_t total = 0;  ///< letters in the queue when the listing began
    std::vector<listed_letter> letters;
    bool cut = false;         ///< stopped by total_bytes before count
};

/// What a requeue did. `moved` ids are in the task queue with attempt 1 and requeues + 1.
struct requeue_report {
    std::vector<std::string> moved;
    struct kept_letter {
        std::string id, why;
    };
    std::vector<kept_letter> kept;     ///< selected, but can never be a task again; left dead
    std::vector<std::string> missing;  ///< named and not found
    std::uint32_t left = 0;            ///< letters in the dead queue afterwards
    std::string trouble;  ///< non-empty: the broker refused a copy and the requeue stopped there
};

struct purge_report {
    std::uint32_t purged = 0;
    std::vector<std::string> missing;  ///< named and not found
    std::uint32_t left = 0;
};

/// `s` cut to at most `max` bytes, never inside a UTF-8 sequence.
std::string_view cut_utf8(std::string_view s, std::size_t max);

/// Adds letters to a listing within its bounds; pure, so the bounds are tested without a broker.
class listing_builder {
public:
    explicit listing_builder(const dead_list_bounds& b);
    /// False (and nothing added) once the count or the byte budget is used up.
    bool add(std::string_view body, std::string_view message_id, std::string_view type);
    bool full() const { return full_; }
    dead_listing take(std::uint32_t total);

private:
    dead_list_bounds bounds_;
    std::size_t bytes_ = 0;
    bool full_ = false;
    dead_listing out_;
};

/// See the file comment.
class dead_letters {
public:
    /// Connects (reader) and declares the queues as serve and work do; throws service_error.
    dead_letters(const amqp_url& url, topology topo, std::chrono::milliseconds confirm_timeout,
                 const std::string& connection_name);
    ~dead_letters();
    dead_letters(const dead_letters&) = delete;
    dead_letters& operator=(const dead_letters&) = delete;

    const std::string& dead_queue() const;
    const std::string& task_queue() const;
    /// Letters in the dead queue now.
    std::uint32_t count();
    /// The first letters, in queue order, without removing any.
    dead_listing list(const dead_list_bounds& b);
    /// Moves the selected letters back to the task queue, at most `max_moved` (0: no bound),
    /// one confirmed copy at a time; `on_moved` hears each id as it is acked. A broker that
    /// refuses a copy or a connection that fails midway ends it with `trouble` set (and what
    /// moved before in `moved`); after that, open a new dead_letters.
    requeue_report requeue(const dead_selection& which, std::size_t max_moved = 0,
                           const std::function<void(const std::string&)>& on_moved = {});
    /// Deletes the selected letters (all: queue.purge; ids: each acked away).
    purge_report purge(const dead_selection& which);

private:
    void requeue_scan(const dead_selection& which, std::size_t max_moved,
                      const std::function<void(const std::string&)>& on_moved, std::uint32_t bound, std::uint32_t& seen,
                      std::set<std::string>& found, requeue_report& rep);
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace pfo3::queue
