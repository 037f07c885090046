#include "pfo3/serve/request_dispatcher.hpp"

#include <chrono>
#include <cstddef>
#include <utility>

#include "pfo3/core/clock.hpp"
#include "pfo3/core/task_id.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/metrics/serve_metrics.hpp"
#include "pfo3/ops/identity.hpp"
#include "pfo3/queue/publisher.hpp"
#include "pfo3/serve/accepted_ids.hpp"
#include "pfo3/serve/dead_letter_desk.hpp"
#include "pfo3/serve/status_reader.hpp"
#include "replies.hpp"
#include "schedule.hpp"

namespace pfo3::serve {

namespace {

class request_dispatcher final : public net::dispatcher {
public:
    request_dispatcher(queue::publisher& pub, std::string queue, status_reader& status,
                       config::schedule_settings schedule, metrics::serve_metrics* m,
                       std::shared_ptr<accepted_ids> accepted, dead_letter_desk& dead)
        : pub_(pub), queue_(std::move(queue)), status_(status), schedule_(schedule),
          identity_(ops::process_identity()), m_(m), accepted_(std::move(accepted)), dead_(dead) {}

    void dispatch(json::request req, reply done) override {
        switch (req.kind) {
        case json::op::ping:
            if (m_) m_->request(metrics::request_op::ping, std::nullopt);
            done(json::encode_pong());
            return;
        case json::op::status:
            status_.read(std::move(req.id), [m = m_, done = std::move(done)](std::string line) {
                if (m) m->request(metrics::request_op::status, error_of(line));
                done(std::move(line));
            });
            return;
        case json::op::submit: submit(std::move(req), std::move(done)); return;
        case json::op::cancel:
            status_.cancel(std::move(req.id), std::move(req.reason), [m = m_, done = std::move(done)](std::string line) {
                if (m) m->request(metrics::request_op::cancel, error_of(line));
                done(std::move(line));
            });
            return;
        case json::op::dead_list:
        case json::op::dead_requeue:
        case json::op::dead_purge: dead_.handle(std::move(req), std::move(done)); return;
        case json::op::auth: break;  // answered by the connection (net::session), never here
        }
        done(json::encode_rejected(request_error::bad_request, "op not handled by serve"));
    }

private:
    void submit(json::request req, reply done) {
        task t;
        t.id = req.id.empty() ? make_task_id() : std::move(req.id);
        t.type = std::move(req.type);
        t.payload_json = std::move(req.payload_json);
        t.max_attempts = req.max_attempts;
        t.timeout_ms = req.timeout_ms;
        t.priority = req.priority;
        auto now = std::chrono::system_clock::now();
        t.submitted_at = to_rfc3339(now);
        schedule_plan plan = plan_schedule(req, now, schedule_);
        if (!plan.problem.empty()) return done(json::encode_rejected(request_error::bad_request, plan.problem, t.id));
        t.run_at = plan.run_at;
        queue::outgoing_message msg;
        msg.delay_units = plan.units;
        msg.priority = t.priority;
        msg.routing_key = queue_;
        msg.body = json::encode_message(t);
        msg.message_id = t.id;
        msg.type = t.type;
        msg.timestamp = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        const std::size_t slot = m_ ? m_->type_slot(t.type) : 0;
        if (plan.units > 0) return submit_scheduled(std::move(msg), std::move(t), slot, std::move(done));
        pub_.publish(std::move(msg), [id = std::move(t.id), done = std::move(done), m = m_, slot,
                                      sent = std::chrono::steady_clock::now(), &ids = *accepted_](queue::publish_outcome o) {
            if (m) count(*m, o, slot, sent);
            if (o == queue::publish_outcome::confirmed) ids.add(id);  // so its cancel finds it (decision 0015)
            done(publish_answer(o, id));
        });
    }

    // A delayed task: once the broker holds it, its `scheduled` record is written on a status
    // thread (never on the I/O thread), then the client hears `scheduled` (decision 0012).
    void submit_scheduled(queue::outgoing_message msg, task t, std::size_t slot, reply done) {
        pub_.publish(std::move(msg), [this, t = std::move(t), done = std::move(done), slot,
                                      sent = std::chrono::steady_clock::now()](queue::publish_outcome o) mutable {
            if (m_) count(*m_, o, slot, sent);
            if (o != queue::publish_outcome::confirmed) return done(publish_answer(o, t.id));
            std::string line = json::encode_scheduled(t.id, t.run_at);
            status_.record(scheduled_record(t, identity_), std::move(line), std::move(done));
        });
    }

    // The request counter, the confirm latency (of answers from the broker) and nacks/returns.
    static void count(metrics::serve_metrics& m, queue::publish_outcome o, std::size_t type_slot,
                      std::chrono::steady_clock::time_point sent) {
        using queue::publish_outcome;
        if (o == publish_outcome::confirmed || o == publish_outcome::nacked || o == publish_outcome::unroutable)
            m.confirm_latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count());
        switch (o) {
        case publish_outcome::confirmed:
            m.accepted(type_slot);
            return m.request(metrics::request_op::submit, std::nullopt);
        case publish_outcome::nacked: m.nacked.inc(); break;
        case publish_outcome::unroutable: m.returned.inc(); break;
        case publish_outcome::overloaded:
            return m.request(metrics::request_op::submit, request_error::overloaded);
        case publish_outcome::unavailable: break;
        }
        m.request(metrics::request_op::submit, request_error::unavailable);
    }

    queue::publisher& pub_;
    std::string queue_;
    status_reader& status_;
    config::schedule_settings schedule_;
    std::string identity_;
    metrics::serve_metrics* m_;  // null: [http] metrics = false
    std::shared_ptr<accepted_ids> accepted_;
    dead_letter_desk& dead_;
};

}  // namespace

std::unique_ptr<net::dispatcher> make_request_dispatcher(queue::publisher& pub, std::string queue,
                                                         status_reader& status,
                                                         const config::schedule_settings& schedule,
                                                         metrics::serve_metrics* m,
                                                         std::shared_ptr<accepted_ids> accepted,
                                                         dead_letter_desk& dead) {
    return std::make_unique<request_dispatcher>(pub, std::move(queue), status, schedule, m, std::move(accepted),
                                                dead);
}

}  // namespace pfo3::serve
