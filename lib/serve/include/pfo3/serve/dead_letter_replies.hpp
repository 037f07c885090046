#pragma once
// The answers of serve's dead_list, dead_requeue and dead_purge ops (docs/protocol.md), kept
// bounded: a listing is bounded by queue::dead_list_bounds, a requeue names at most
// max_kept_named letters it had to leave.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "pfo3/queue/dead_letters.hpp"

namespace pfo3::serve {

/// Letters a requeue reply names among those it could not make tasks again (kept_count says all).
inline constexpr std::size_t max_kept_named = 100;

/// {"ok":true,"op":"dead_list","queue":…,"total":T,"listed":N,"cut":B,"letters":[…]}\n
std::string encode_dead_listing(const std::string& dead_queue, const queue::dead_listing& l);
/// {"ok":true,"op":"dead_requeue","queue":TASK_QUEUE,…}\n, or ok:false with error "unavailable" and the same
/// fields when the broker refused a copy midway (what moved before that has moved).
std::string encode_requeue_report(const std::string& task_queue, const queue::requeue_report& r, bool more);
/// {"ok":true,"op":"dead_purge","queue":…,"purged":N,"missing":[…],"left":L}\n
std::string encode_purge_report(const std::string& dead_queue, const queue::purge_report& r);

/// The client's side: the answers back as the structs they were made from; nullopt, with
/// `why`, for a line that is not such an answer (a rejection included: read it with
/// json::decode_response first). `queue` gets the answer's queue name.
std::optional<queue::dead_listing> decode_dead_listing(std::string_view line, std::string& queue, std::string& why);
std::optional<queue::requeue_report> decode_requeue_report(std::string_view line, std::string& queue, bool& more,
                                                          std::string& why);
std::optional<queue::purge_report> decode_purge_report(std::string_view line, std::string& queue, std::string& why);

}  // namespace pfo3::serve
