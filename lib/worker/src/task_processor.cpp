#include "task_processor.hpp"

#include <chrono>
#include <random>
#include <thread>

#include "pfo3/core/backoff.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"

namespace pfo3::worker {

namespace {

// The dead-letter body is the task's own body (whose "attempt" is the attempt count) plus why
// it died, so an operator reading `<queue>.dead` sees the cause without the store.
std::string dead_body(const task& t, const std::string& error) {
    std::string body = json::encode_message(t);
    body.pop_back();  // the closing '}' of the object encode_message wrote
    body += ",\"error\":";
    body += json::quote(error);
    body += '}';
    return body;
}

// Interruptible wait used by retry loops so a stopping worker does not sit out a backoff.
void pause(std::chrono::milliseconds d, const std::atomic<bool>& give_up) {
    auto until = std::chrono::steady_clock::now() + d;
    while (!give_up.load() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::min(d, std::chrono::milliseconds(50)));
}

// Jitter only needs spread between workers and threads, not secrecy.
double random01() {
    thread_local std::mt19937_64 gen{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

queue::outgoing_message message_for(const task& t, std::string routing_key) {
    queue::outgoing_message msg;
    msg.routing_key = std::move(routing_key);
    msg.body = json::encode_message(t);
    msg.message_id = t.id;
    msg.type = t.type;
    msg.timestamp = now_seconds();
    msg.priority = t.priority;
    return msg;
}

task_record record_of(const task& t, task_status status, std::string error, std::string started,
                      const std::string& worker) {
    // Every text a worker's record holds as JSON was parsed or written by pfo3 on the way here.
    return task_record{t.id,          t.type,           t.payload_json, status,
                       "null",        std::move(error), t.attempt,      worker,
                       t.submitted_at, std::move(started), rfc3339_now(), t.requeues,
                       /*json_checked*/ true};
}

// A body larger than this goes to the handler threads even for a built-in: decoding and summing
// it would hold up the consumer thread, which also carries acks and heartbeats.
constexpr std::size_t max_inline_body = 64 * 1024;

// RabbitMQ's default consumer_timeout: a delivery held longer closes the consumer's channel.
constexpr std::chrono::minutes default_consumer_timeout{30};

const backoff_policy broker_and_store_backoff{std::chrono::milliseconds(200), 2.0, std::chrono::seconds(10), 0.2};

}  // namespace

int task_processor::max_attempts_of(const task& t) const {
    const int asked = t.max_attempts > 0 ? t.max_attempts : d_.opts.max_attempts;
    return std::max(1, std::min(asked, d_.opts.max_attempts_limit));
}

void task_processor::process(delivery_guard g) {
    try {
        const auto& dv = g.delivery();
        task t;
        std::string why;
        auto started = rfc3339_now();
        if (!json::decode_message(dv.body, t, why)) {
            if (t.id.empty() && is_valid_task_id(dv.message_id)) t.id = dv.message_id;
            PFO3_LOG(error, "undecodable message: dead-lettered", {{"task_id", t.id}, {"error", why}});
            if (!dead_letter(dv.body, t.id.empty() ? std::string("unknown") : t.id, t.type)) return;
            if (t.id.empty()) {  // nothing to store without an id: the dead letter is the record
                if (d_.opts.metrics) d_.opts.metrics->finished(t.type, metrics::outcome::dead);
                return g.ack();
            }
            task bare = t;
            bare.payload_json = "null";
            return d_.committer->commit(
                record_of(bare, task_status::dead, "invalid message: " + why, std::move(started), d_.opts.worker),
                std::move(g));
        }
        if (early(g, t)) return;
        if (d_.opts.metrics)
            if (auto submitted = parse_rfc3339(t.submitted_at))
                d_.opts.metrics->wait_time.observe(
                    metrics::seconds_between(*submitted, std::chrono::system_clock::now()));
        if (dv.redelivered) return redelivered(std::move(g), t, max_attempts_of(t), std::move(started));
        // A task that waited (delayed, or a retry) may have been cancelled meanwhile: its record
        // says so (issue 16). One queued to run now is looked up only when this worker heard
        // of a cancel of its id (decision 0015; the record decides, as the id may be reused), or
        // when it is a possible copy: its id was published before without a confirm (a client's
        // resubmission after `unavailable`), and the first copy may have run already (issue 15).
        const bool heard = d_.cancels && d_.cancels->pending(t.id);
        if (dv.maybe_copy || !t.run_at.empty() || t.attempt > 1 || heard) {
            auto stored = stored_record(t.id);
            if (!stored) return;  // stopping before the store answered: handed back
            if (cancelled(*stored, t)) return settle_cancel(std::move(g), t, **stored);
            if (heard) d_.cancels->forget(t.id);
            if (ended(*stored, t)) {
                PFO3_LOG(info, "task is a copy of one whose attempt already has its record: acked without running it",
                         {{"task_id", t.id}, {"attempt", std::to_string(t.attempt)},
                          {"stored", std::string(to_string((*stored)->status))}});
                return g.ack();
            }
        }
        run(std::move(g), t, std::move(started));
    } catch (const std::exception& e) {
        // Only resource exhaustion gets here; the guard hands the delivery back.
        PFO3_LOG(error, "delivery handed back to the broker after an unexpected error", {{"error", e.what()}});
    }
}

bool task_processor::ended(const std::optional<task_record>& rec, const task& t) {
    // A record of a later requeue: this message belongs to a run an operator replaced. A final
    // record, or a `failed` one of this attempt (committed only after its retry was
    // confirmed): the attempt ended.
    return rec && (rec->requeues > t.requeues ||
                   (rec->requeues == t.requeues && (is_final(rec->status) || rec->attempts >= t.attempt)));
}

bool task_processor::cancelled(const std::optional<task_record>& rec, const task& t) {
    return rec && rec->status == task_status::cancel_requested && rec->requeues == t.requeues;
}

void task_processor::settle_cancel(delivery_guard g, const task& t, task_record rec) {
    PFO3_LOG(info, "task cancelled before it ran: acked, not run",
             {{"task_id", t.id}, {"attempt", std::to_string(t.attempt)}, {"reason", rec.error}});
    if (d_.cancels) d_.cancels->forget(t.id);
    // serve's record of a task queued to run now knows only the id (decision 0015).
    if (rec.type.empty()) {
        rec.type = t.type;
        rec.payload_json = t.payload_json;
        rec.submitted_at = t.submitted_at;
        rec.json_checked = true;  // decoded from the message, as every worker record
    }
    rec.status = task_status::cancelled;
    rec.worker = d_.opts.worker;
    rec.finished_at = rfc3339_now();
    d_.committer->commit(std::move(rec), std::move(g));
}

bool task_processor::early(delivery_guard& g, const task& t) {
    if (t.run_at.empty()) return false;
    const auto at = parse_rfc3339(t.run_at);
    if (!at) {
        // Only a foreign producer writes an unreadable run_at; running it now loses nothing.
        PFO3_LOG(warn, "task has an unreadable run_at; running it now", {{"task_id", t.id}, {"run_at", t.run_at}});
        return false;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*at - std::chrono::system_clock::now());
    // Less than a unit early (clock skew between hosts, rounding): the ladder's precision.
    if (left < d_.opts.topo.delay_unit) return false;
    auto msg = message_for(t, std::string());
    msg.delay_units = queue::delay_units(left, d_.opts.topo.delay_unit);
    PFO3_LOG(info, "task arrived before its run_at: sent back to wait the rest",
             {{"task_id", t.id}, {"run_at", t.run_at}, {"left_ms", std::to_string(left.count())}});
    if (publish_confirmed(msg, "delay")) g.ack();
    return true;
}

std::optional<task_record> task_processor::run_inline(const queue::delivery& dv) const {
    if (dv.redelivered || dv.maybe_copy || dv.body.size() > max_inline_body) return std::nullopt;
    // The type property (set by every pfo3 producer) spares decoding what will not run here;
    // the body's own type decides below.
    if (!dv.type.empty() && !d_.registry.runs_inline(dv.type)) return std::nullopt;
    auto started = rfc3339_now();
    task t;
    std::string why;
    if (!json::decode_message(dv.body, t, why) || !d_.registry.runs_inline(t.type)) return std::nullopt;
    // A task that waited (delayed or a retry) goes the long way: it may have come early, or
    // been cancelled while it waited.
    if (!t.run_at.empty() || t.attempt > 1) return std::nullopt;
    if (d_.cancels && d_.cancels->pending(t.id)) return std::nullopt;  // heard of a cancel of it
    PFO3_LOG(debug, "task started", {{"task_id", t.id}, {"type", t.type}, {"attempt", std::to_string(t.attempt)}});
    const auto run_started = std::chrono::steady_clock::now();
    auto out = d_.registry.run(t);
    if (out.status != handlers::outcome::kind::done) return std::nullopt;  // a handler thread runs it again
    if (d_.opts.metrics) {  // as process() and run() count a task that ran
        d_.opts.metrics->run_time.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - run_started).count());
        if (auto submitted = parse_rfc3339(t.submitted_at))
            d_.opts.metrics->wait_time.observe(metrics::seconds_between(*submitted, std::chrono::system_clock::now()));
    }
    // As record_of() builds it, moving what this thread's task no longer needs.
    return task_record{std::move(t.id),           std::move(t.type),   std::move(t.payload_json),
                       task_status::done,         std::move(out.result_json), std::string(),
                       t.attempt,                 d_.opts.worker,      std::move(t.submitted_at),
                       std::move(started),        rfc3339_now(),       t.requeues,
                       /*json_checked*/ true};
}

void task_processor::run(delivery_guard g, const task& t, std::string started) {
    const int max_attempts = max_attempts_of(t);
    if (std::chrono::milliseconds(t.timeout_ms) >= default_consumer_timeout) {
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true))
            PFO3_LOG(warn, "a task's time limit reaches RabbitMQ's default consumer_timeout (30 min); unless the "
                           "broker's consumer_timeout is raised, it closes our channel and the task is redelivered",
                     {{"task_id", t.id}, {"timeout_ms", std::to_string(t.timeout_ms)}});
    }

    PFO3_LOG(debug, "task started", {{"task_id", t.id}, {"type", t.type}, {"attempt", std::to_string(t.attempt)}});
    const auto run_started = std::chrono::steady_clock::now();
    // While it runs, a cancel of its id stops an external handler (decision 0015), and the
    // heartbeat lists it among the tasks in hand.
    std::optional<cancel_board::run_ticket> ticket;
    if (d_.cancels) ticket.emplace(*d_.cancels, t.id);
    auto out = [&] {
        if (!d_.opts.metrics) return d_.registry.run(t, ticket ? ticket->stop() : nullptr);
        metrics::tasks_in_hand::entry in_hand(d_.opts.metrics->in_hand, t.id, t.type);
        return d_.registry.run(t, ticket ? ticket->stop() : nullptr);
    }();
    ticket.reset();
    if (d_.opts.metrics) {
        d_.opts.metrics->run_time.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - run_started).count());
        if (out.timed_out) d_.opts.metrics->handler_timeouts.inc();
    }
    task_record r = record_of(t, task_status::done, {}, std::move(started), d_.opts.worker);
    switch (out.status) {
    case handlers::outcome::kind::done:
        r.result_json = std::move(out.result_json);
        break;
    case handlers::outcome::kind::failed:
        r.error = out.error;
        if (t.attempt < max_attempts) {
            // The record says `failed` while the task waits, so `status` shows its progress;
            // the retry message, confirmed before the record is committed, carries the task on.
            // A late commit of this record cannot hide the retry's own: stores keep the newest.
            r.status = task_status::failed;
            task next = t;
            next.attempt = t.attempt + 1;
            // The wait goes on the delay ladder (decision 0012), rounded up to its unit: no
            // retry waits behind a longer one, as it could in a per-delay retry queue (0005).
            auto msg = message_for(next, std::string());
            auto wait = queue::retry_delay(d_.opts.retry_backoff, t.attempt, random01());
            msg.delay_units = queue::delay_units(wait, d_.opts.topo.delay_unit);
            PFO3_LOG(info, "task failed; will be retried",
                     {{"task_id", t.id}, {"type", t.type}, {"attempt", std::to_string(t.attempt)},
                      {"max_attempts", std::to_string(max_attempts)}, {"retry_in_ms", std::to_string(wait.count())},
                      {"error", out.error}});
            if (!publish_confirmed(msg, "retry")) return;
        } else {
            r.status = task_status::dead;
            PFO3_LOG(warn, "task failed on its last attempt: dead-lettered",
                     {{"task_id", t.id}, {"type", t.type}, {"attempts", std::to_string(t.attempt)},
                      {"error", out.error}});
            if (!dead_letter(dead_body(t, out.error), t.id, t.type)) return;
        }
        break;
    case handlers::outcome::kind::cancelled:
        // Never retried: the cancel is the verdict, and it replaces cancel_requested.
        r.status = task_status::cancelled;
        r.error = out.error;
        PFO3_LOG(info, "running task cancelled: its handler was stopped",
                 {{"task_id", t.id}, {"type", t.type}, {"attempt", std::to_string(t.attempt)}, {"reason", out.error}});
        break;
    case handlers::outcome::kind::permanent:
        r.status = task_status::dead;
        r.error = out.error;
        PFO3_LOG(warn, "task cannot succeed: dead-lettered", {{"task_id", t.id}, {"type", t.type}, {"error", out.error}});
        if (!dead_letter(dead_body(t, out.error), t.id, t.type)) return;
        break;
    }
    d_.committer->commit(std::move(r), std::move(g));
}

void task_processor::redelivered(delivery_guard g, const task& t, int max_attempts, std::string started) {
    // Ask the store first: a worker whose ack was lost (connection cut after the commit) has
    // already stored this attempt's outcome. A final record, or a `failed` one of this attempt
    // (committed only after its retry was confirmed), means the attempt ended: ack, run nothing.
    auto stored = stored_record(t.id);
    if (!stored) return;  // stopping before the store answered: handed back
    if (cancelled(*stored, t)) return settle_cancel(std::move(g), t, **stored);
    if (const auto& rec = *stored; ended(rec, t)) {
        PFO3_LOG(info, "redelivered task already has its record: acked without running it again",
                 {{"task_id", t.id}, {"attempt", std::to_string(t.attempt)}, {"stored", std::string(to_string(rec->status))},
                  {"stored_attempts", std::to_string(rec->attempts)}});
        return g.ack();
    }
    // The attempt was interrupted (its worker died or lost the connection before storing).
    if (g.delivery().delivery_count >= 0) return redelivered_counted(std::move(g), t, max_attempts, std::move(started));
    if (t.attempt >= max_attempts) {
        std::string error = "attempt " + std::to_string(t.attempt) + " of " + std::to_string(max_attempts) +
                            " was redelivered: the worker running it crashed or lost its broker connection";
        PFO3_LOG(error, "task keeps being redelivered (it may kill its worker): dead-lettered",
                 {{"task_id", t.id}, {"type", t.type}, {"attempts", std::to_string(t.attempt)}});
        if (!dead_letter(dead_body(t, error), t.id, t.type)) return;
        return d_.committer->commit(record_of(t, task_status::dead, std::move(error), std::move(started), d_.opts.worker),
                                    std::move(g));
    }
    task next = t;
    next.attempt = t.attempt + 1;
    PFO3_LOG(warn, "redelivered task: its attempt was interrupted, counted, and the task queued again",
             {{"task_id", t.id}, {"type", t.type}, {"attempt", std::to_string(t.attempt)},
              {"max_attempts", std::to_string(max_attempts)}});
    if (!publish_confirmed(message_for(next, d_.opts.topo.queue), "republish")) return;
    if (d_.opts.metrics) d_.opts.metrics->finished(t.type, metrics::outcome::retry);
    g.ack();
}

task_record task_processor::dead_record(const task& t, std::string error, std::string started) const {
    return record_of(t, task_status::dead, std::move(error), std::move(started), d_.opts.worker);
}

bool task_processor::dead_letter_task(const task& t, const std::string& error) {
    return dead_letter(dead_body(t, error), t.id, t.type);
}

void task_processor::hand_back(delivery_guard g) noexcept {
    try {
        const auto& dv = g.delivery();
        queue::outgoing_message msg;
        msg.routing_key = d_.opts.topo.queue;
        msg.body = dv.body;
        msg.message_id = dv.message_id;
        msg.type = dv.type;
        msg.timestamp = now_seconds();
        // The body keeps its priority (a shutdown path: decoding it again costs nothing that matters).
        task t;
        std::string why;
        if (json::decode_message(dv.body, t, why)) msg.priority = t.priority;
        if (d_.sink.publish(msg) == queue::publish_outcome::confirmed) return g.ack();
        PFO3_LOG(warn, "could not hand an unstarted task back as a fresh copy; requeued (it counts as an attempt)",
                 {{"task_id", dv.message_id}});
    } catch (const std::exception& e) {
        PFO3_LOG(warn, "could not hand an unstarted task back; requeued", {{"error", e.what()}});
    }
}

std::optional<std::optional<task_record>> task_processor::stored_record(const std::string& id) {
    backoff wait(broker_and_store_backoff);
    bool logged = false;
    while (true) {
        try {
            return d_.store.read(id);
        } catch (const std::exception& e) {
            if (!logged) {
                logged = true;
                PFO3_LOG(warn, "cannot read the record of a redelivered task; asking again",
                         {{"task_id", id}, {"store", d_.store.describe()}, {"error", e.what()}});
            }
        }
        if (d_.give_up.load()) return std::nullopt;
        pause(wait.next(), d_.give_up);
        if (d_.give_up.load()) return std::nullopt;
    }
}

void task_processor::store_refused(task_record r, delivery_guard g, const std::string& why) {
    try {
        const std::string error = "result store refused the record: " + why;
        task t;
        t.id = r.id;
        t.type = r.type;
        t.payload_json = r.payload_json;
        t.submitted_at = r.submitted_at;
        t.attempt = r.attempts;
        t.requeues = r.requeues;
        if (!dead_letter(dead_body(t, error), t.id, t.type)) return;
        // What the store can take: the verdict without the values it refused.
        task_record bare = r;
        bare.status = task_status::dead;
        bare.payload_json = "null";
        bare.result_json = "null";
        bare.error = error;
        try {
            d_.store.write(std::span<const task_record>(&bare, 1));
        } catch (const std::exception& e) {
            // The dead letter holds the task and its error; nothing is lost.
            PFO3_LOG(error, "result store refused even the dead record; the dead-letter queue holds the task",
                     {{"task_id", r.id}, {"store", d_.store.describe()}, {"error", e.what()}});
        }
        if (d_.opts.metrics) d_.opts.metrics->finished(r.type, metrics::outcome::dead);
        g.ack();
    } catch (const std::exception& e) {
        PFO3_LOG(error, "delivery handed back to the broker after an unexpected error", {{"error", e.what()}});
    }
}

bool task_processor::publish_confirmed(const queue::outgoing_message& msg, const char* what) {
    backoff wait(broker_and_store_backoff);
    while (true) {
        if (d_.sink.publish(msg) == queue::publish_outcome::confirmed) return true;
        PFO3_LOG(warn, "publish not confirmed; will try again", {{"task_id", msg.message_id}, {"what", what}});
        if (d_.give_up.load()) return false;
        pause(wait.next(), d_.give_up);
        if (d_.give_up.load()) return false;
    }
}

bool task_processor::dead_letter(const std::string& body, const std::string& id, const std::string& type) {
    queue::outgoing_message msg;
    msg.routing_key = d_.opts.topo.dead_queue();
    msg.body = body;
    msg.message_id = id;
    msg.type = type;
    msg.timestamp = now_seconds();
    return publish_confirmed(msg, "dead letter");
}

}  // namespace pfo3::worker
