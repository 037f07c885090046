#include "pfo3/serve/status_reader.hpp"

#include <chrono>

#include "pfo3/core/clock.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/json/protocol.hpp"

namespace pfo3::serve {

namespace {

constexpr auto exit_wait = std::chrono::seconds(2);

}  // namespace

status_reader::status_reader(opener open, std::size_t threads, std::size_t max_waiting)
    : s_(std::make_shared<shared>()) {
    s_->open = std::move(open);
    s_->max_waiting = max_waiting;
    s_->running = threads;
    s_->in_flight.resize(threads);
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([s = s_, i] { run(s, i); });
}

status_reader::~status_reader() {
    bool all_exited;
    {
        std::unique_lock lk(s_->mu);
        s_->stopping = true;
        s_->waiting.clear();
        s_->cv.notify_all();
        all_exited = s_->exited.wait_for(lk, exit_wait, [this] { return s_->running == 0; });
        // A reply callback holds its connection, whose socket belongs to the I/O loop; it is
        // dropped here, while that loop still exists, never later by a thread left behind.
        for (auto& done : s_->in_flight) done = nullptr;
    }
    if (!all_exited)
        PFO3_LOG(warn, "a status read is still waiting for the result store; not waiting for it any longer");
    for (auto& t : threads_) {
        if (all_exited) t.join();
        else t.detach();
    }
}

void status_reader::read(std::string id, net::dispatcher::reply done) {
    {
        std::lock_guard lk(s_->mu);
        if (!s_->stopping && s_->waiting.size() < s_->max_waiting) {
            s_->waiting.push_back(job{std::move(id), std::move(done), std::nullopt, {}, false});
            s_->cv.notify_one();
            return;
        }
    }
    done(json::encode_rejected(request_error::overloaded, "too many status requests waiting for the result store",
                               id));
}

void status_reader::record(task_record r, std::string line, net::dispatcher::reply done) {
    {
        std::lock_guard lk(s_->mu);
        if (!s_->stopping && s_->waiting.size() < s_->max_waiting) {
            std::string id = r.id;
            s_->waiting.push_back(job{std::move(id), std::move(done), std::move(r), std::move(line), false});
            s_->cv.notify_one();
            return;
        }
    }
    PFO3_LOG(warn, "too many requests waiting for the result store: scheduled task not recorded (status says "
                   "pending until it runs)",
             {{"task_id", r.id}});
    done(std::move(line));
}

void status_reader::cancel(std::string id, std::string reason, net::dispatcher::reply done) {
    {
        std::lock_guard lk(s_->mu);
        if (!s_->stopping && s_->waiting.size() < s_->max_waiting) {
            s_->waiting.push_back(job{std::move(id), std::move(done), std::nullopt, std::move(reason), true});
            s_->cv.notify_one();
            return;
        }
    }
    done(json::encode_rejected(request_error::overloaded, "too many requests waiting for the result store", id));
}

void status_reader::set_cancel_hooks(cancel_hooks hooks) {
    std::lock_guard lk(s_->mu);
    s_->hooks = std::move(hooks);
}

std::string status_reader::cancel_answer(store::result_store& store, const job& j, const cancel_hooks& hooks) {
    std::optional<task_record> rec = store.read(j.id);
    if (!rec) {
        if (!hooks.accepted || !hooks.accepted->contains(j.id))
            return json::encode_rejected(request_error::not_found, default_message(request_error::not_found), j.id);
        // Accepted here and queued to run now (decision 0015): the cancel becomes its first
        // record, which knows only the id; the worker that receives the task fills in the rest.
        task_record fresh;
        fresh.id = j.id;
        fresh.status = task_status::scheduled;  // replaced just below
        fresh.attempts = 0;
        rec = std::move(fresh);
    }
    if (is_final(rec->status)) return json::encode_too_late(j.id, rec->status);
    if (rec->status != task_status::cancel_requested) {
        task_record c = *rec;
        c.status = task_status::cancel_requested;
        c.error = j.line.empty() ? "cancel requested" : "cancel requested: " + j.line;
        c.finished_at = rfc3339_now();
        store.write(std::span<const task_record>(&c, 1));
        // A worker may have stored a final record between the read and the write; the store
        // kept it (may_replace), and the client must hear that.
        rec = store.read(j.id);
        if (!rec) return json::encode_rejected(request_error::not_found, default_message(request_error::not_found), j.id);
        if (is_final(rec->status)) return json::encode_too_late(j.id, rec->status);
        PFO3_LOG(info, "cancel requested", {{"task_id", j.id}, {"reason", j.line}});
    }
    // Also when it already was: a client asking again may have missed the first event, which
    // costs one event.
    if (hooks.announce) hooks.announce(j.id, rec->error);
    return json::encode_cancel_requested(j.id);
}

std::string status_reader::answer(store::result_store& store, job& j, const cancel_hooks& hooks) {
    if (j.cancel) return cancel_answer(store, j, hooks);
    if (!j.record) return json::encode_status(j.id, store.read(j.id));
    store.write(std::span<const task_record>(&*j.record, 1));
    return std::move(j.line);
}

void status_reader::run(const std::shared_ptr<shared>& s, std::size_t index) {
    // Opened on first use, so serve runs on hosts where only workers reach the store; dropped
    // after a failure, so the next read connects afresh. Reads use a read-only handle (SQLite:
    // serve never creates the database); only the first `scheduled` record or cancel opens one
    // for writing.
    std::unique_ptr<store::result_store> reader, writer;
    for (;;) {
        job j;
        cancel_hooks hooks;
        {
            std::unique_lock lk(s->mu);
            s->cv.wait(lk, [&] { return s->stopping || !s->waiting.empty(); });
            if (s->stopping) break;
            j = std::move(s->waiting.front());
            s->waiting.pop_front();
            s->in_flight[index] = std::move(j.done);
            if (j.cancel) hooks = s->hooks;
        }
        const std::string& id = j.id;
        std::string line;
        std::string failure;
        try {
            // A cancel writes its record too (a read-only SQLite handle would refuse it).
            const bool writes = j.record || j.cancel;
            auto& store = writes ? writer : reader;
            try {
                if (!store) store = s->open(writes ? store::store_use::write : store::store_use::read);
                line = answer(*store, j, hooks);
            } catch (...) {
                store.reset();
                throw;
            }
        } catch (const std::exception& e) {
            failure = e.what();
            // The store's detail (paths, hosts, SQL) is for the operator, never for clients.
            // A scheduled task is accepted all the same: the broker holds it.
            line = j.record && !j.cancel ? std::move(j.line)
                            : json::encode_rejected(request_error::unavailable, "result store unavailable", id);
        }
        // Under the lock: once the destructor has set `stopping`, nothing here reaches the I/O
        // loop or the log again (done() only posts, it never blocks).
        std::lock_guard lk(s->mu);
        if (s->stopping) break;
        if (!failure.empty())
            PFO3_LOG(warn, j.record ? "scheduled record not written: result store unavailable (status says pending "
                                      "until the task runs)"
                                    : "status request failed: result store unavailable",
                     {{"task_id", id}, {"error", failure}});
        auto done = std::move(s->in_flight[index]);
        s->in_flight[index] = nullptr;
        done(std::move(line));
    }
    std::lock_guard lk(s->mu);
    --s->running;
    s->exited.notify_all();
}

}  // namespace pfo3::serve
