#include "task_processor.hpp"

#include <chrono>
#include <future>
#include <random>
#include <thread>

#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"

namespace pfo3::app {

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
    return msg;
}

// RabbitMQ's default consumer_timeout: a delivery held longer closes the consumer's channel.
constexpr std::chrono::minutes default_consumer_timeout{30};

}  // namespace

void task_processor::process(const queue::delivery& dv) {
    task t;
    std::string why;
    auto started = rfc3339_now();
    if (!json::decode_message(dv.body, t, why)) {
        if (t.id.empty() && is_valid_task_id(dv.message_id)) t.id = dv.message_id;
        PFO3_LOG(error, "undecodable message: dead-lettered", {{"task_id", t.id}, {"error", why}});
        std::string body = dv.body;
        if (!dead_letter(body, t.id.empty() ? std::string("unknown") : t.id, t.type)) return d_.nack_requeue(dv);
        if (!t.id.empty()) {
            task_record r{t.id, t.type, "null", task_status::dead, "null", "invalid message: " + why,
                          t.attempt, d_.worker, t.submitted_at, started, rfc3339_now()};
            return d_.committer.commit(std::move(r), dv);
        }
        // Nothing to store without an id: the dead letter is the record.
        return d_.ack(dv);
    }

    const int max_attempts = t.max_attempts > 0 ? t.max_attempts : d_.retry.max_attempts;
    if (dv.redelivered) return redelivered(dv, t, max_attempts, std::move(started));

    if (std::chrono::milliseconds(t.timeout_ms) >= default_consumer_timeout) {
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true))
            PFO3_LOG(warn, "a task's time limit reaches RabbitMQ's default consumer_timeout (30 min); unless the "
                           "broker's consumer_timeout is raised, it closes our channel and the task is redelivered",
                     {{"task_id", t.id}, {"timeout_ms", std::to_string(t.timeout_ms)}});
    }

    PFO3_LOG(debug, "task started", {{"task_id", t.id}, {"type", t.type}, {"attempt", std::to_string(t.attempt)}});
    auto out = d_.registry.run(t);
    task_record r;
    r.id = t.id;
    r.type = t.type;
    r.payload_json = t.payload_json;
    r.attempts = t.attempt;
    r.worker = d_.worker;
    r.submitted_at = t.submitted_at;
    r.started_at = std::move(started);
    r.finished_at = rfc3339_now();
    switch (out.status) {
    case handlers::outcome::kind::done:
        r.status = task_status::done;
        r.result_json = std::move(out.result_json);
        break;
    case handlers::outcome::kind::failed:
        r.error = out.error;
        if (t.attempt < max_attempts) {
            // The record says `failed` while the task waits, so `status` shows its progress;
            // the retry message, confirmed before the ack, is what carries the task on.
            r.status = task_status::failed;
            task next = t;
            next.attempt = t.attempt + 1;
            auto msg = message_for(next, std::string());
            msg.retry_delay = queue::retry_base_delay(d_.retry.backoff, t.attempt);
            auto wait = queue::retry_delay(d_.retry.backoff, t.attempt, random01());
            msg.expiration_ms = wait.count();
            PFO3_LOG(info, "task failed; will be retried",
                     {{"task_id", t.id}, {"type", t.type}, {"attempt", std::to_string(t.attempt)},
                      {"max_attempts", std::to_string(max_attempts)}, {"retry_in_ms", std::to_string(wait.count())},
                      {"error", out.error}});
            if (!publish_confirmed(msg, "retry")) return d_.nack_requeue(dv);
        } else {
            r.status = task_status::dead;
            PFO3_LOG(warn, "task failed on its last attempt: dead-lettered",
                     {{"task_id", t.id}, {"type", t.type}, {"attempts", std::to_string(t.attempt)},
                      {"error", out.error}});
            if (!dead_letter(dead_body(t, out.error), t.id, t.type)) return d_.nack_requeue(dv);
        }
        break;
    case handlers::outcome::kind::permanent:
        r.status = task_status::dead;
        r.error = out.error;
        PFO3_LOG(warn, "task cannot succeed: dead-lettered", {{"task_id", t.id}, {"type", t.type}, {"error", out.error}});
        if (!dead_letter(dead_body(t, out.error), t.id, t.type)) return d_.nack_requeue(dv);
        break;
    }
    d_.committer.commit(std::move(r), dv);
}

void task_processor::redelivered(const queue::delivery& dv, const task& t, int max_attempts, std::string started) {
    if (t.attempt >= max_attempts) {
        std::string error = "attempt " + std::to_string(t.attempt) + " of " + std::to_string(max_attempts) +
                            " was redelivered: the worker running it crashed or lost its broker connection";
        PFO3_LOG(error, "task keeps being redelivered (it may kill its worker): dead-lettered",
                 {{"task_id", t.id}, {"type", t.type}, {"attempts", std::to_string(t.attempt)}});
        if (!dead_letter(dead_body(t, error), t.id, t.type)) return d_.nack_requeue(dv);
        task_record r{t.id, t.type, t.payload_json, task_status::dead, "null", std::move(error),
                      t.attempt, d_.worker, t.submitted_at, std::move(started), rfc3339_now()};
        return d_.committer.commit(std::move(r), dv);
    }
    // No record: the interrupted attempt may even have stored `done` before its worker died,
    // and the next run writes the truth anyway.
    task next = t;
    next.attempt = t.attempt + 1;
    PFO3_LOG(warn, "redelivered task: its attempt was interrupted, counted, and the task queued again",
             {{"task_id", t.id}, {"type", t.type}, {"attempt", std::to_string(t.attempt)},
              {"max_attempts", std::to_string(max_attempts)}});
    if (!publish_confirmed(message_for(next, d_.topo.queue), "republish")) return d_.nack_requeue(dv);
    d_.ack(dv);
}

bool task_processor::publish_confirmed(const queue::outgoing_message& msg, const char* what) {
    backoff wait({std::chrono::milliseconds(200), 2.0, std::chrono::seconds(10), 0.2});
    while (true) {
        auto promise = std::make_shared<std::promise<queue::publish_outcome>>();
        auto result = promise->get_future();
        d_.republisher.publish(msg, [promise](queue::publish_outcome o) { promise->set_value(o); });
        auto o = result.get();
        if (o == queue::publish_outcome::confirmed) return true;
        PFO3_LOG(warn, "publish not confirmed; will try again", {{"task_id", msg.message_id}, {"what", what}});
        if (d_.give_up.load()) return false;
        pause(wait.next(), d_.give_up);
        if (d_.give_up.load()) return false;
    }
}

bool task_processor::dead_letter(const std::string& body, const std::string& id, const std::string& type) {
    queue::outgoing_message msg;
    msg.routing_key = d_.topo.dead_queue();
    msg.body = body;
    msg.message_id = id;
    msg.type = type;
    msg.timestamp = now_seconds();
    return publish_confirmed(msg, "dead letter");
}

}  // namespace pfo3::app
