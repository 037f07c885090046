#include "task_processor.hpp"

#include <chrono>
#include <future>
#include <thread>

#include "pfo3/core/backoff.hpp"
#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"

namespace pfo3::app {

namespace {

// The dead-letter body is the task's own body plus why it died, so an operator reading
// `<queue>.dead` sees the cause without the store.
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

    PFO3_LOG(debug, "task started", {{"task_id", t.id}, {"type", t.type}});
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
        // Retries with backoff come with the retry queues; until then a failure is final
        // and stored, never dropped.
        r.status = task_status::failed;
        r.error = out.error;
        PFO3_LOG(warn, "task failed", {{"task_id", t.id}, {"type", t.type}, {"error", out.error}});
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

bool task_processor::dead_letter(const std::string& body, const std::string& id, const std::string& type) {
    backoff wait({std::chrono::milliseconds(200), 2.0, std::chrono::seconds(10), 0.2});
    while (true) {
        auto promise = std::make_shared<std::promise<queue::publish_outcome>>();
        auto result = promise->get_future();
        queue::outgoing_message msg;
        msg.routing_key = d_.dead_queue;
        msg.body = body;
        msg.message_id = id;
        msg.type = type;
        msg.timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        d_.dead_letters.publish(std::move(msg), [promise](queue::publish_outcome o) { promise->set_value(o); });
        auto o = result.get();
        if (o == queue::publish_outcome::confirmed) return true;
        PFO3_LOG(warn, "dead-lettering not confirmed; will try again", {{"task_id", id}});
        if (d_.give_up.load()) return false;
        pause(wait.next(), d_.give_up);
        if (d_.give_up.load()) return false;
    }
}

}  // namespace pfo3::app
