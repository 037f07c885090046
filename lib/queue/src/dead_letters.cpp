#include "pfo3/queue/dead_letters.hpp"

#include <algorithm>
#include <set>

#include "pfo3/core/error.hpp"
#include "pfo3/queue/queue_admin.hpp"

namespace pfo3::queue {

bool dead_selection::selects(std::string_view id) const {
    return all || std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::string_view cut_utf8(std::string_view s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
    return s.substr(0, n);
}

listing_builder::listing_builder(const dead_list_bounds& b) : bounds_(b) {
    if (bounds_.count == 0) bounds_.count = SIZE_MAX;
}

bool listing_builder::add(std::string_view body, std::string_view message_id, std::string_view type) {
    if (full_ || out_.letters.size() >= bounds_.count) {
        full_ = true;
        return false;
    }
    listed_letter l;
    l.summary = summarize_dead_letter(body, message_id, type);
    l.body = dead_letter_json_line(body);
    l.body_size = l.body.size();
    if (l.body.size() > bounds_.body_bytes) {
        l.body.resize(cut_utf8(l.body, bounds_.body_bytes).size());
        l.body_cut = true;
    }
    // A handler's error may be as long as a body (all of its stderr): cut the same way.
    if (l.summary.error.size() > bounds_.body_bytes) l.summary.error.resize(cut_utf8(l.summary.error, bounds_.body_bytes).size());
    // The summary's text fields count too.
    const std::size_t cost = l.body.size() + l.summary.id.size() + l.summary.type.size() + l.summary.error.size() +
                             l.summary.submitted_at.size();
    if (bytes_ + cost > bounds_.total_bytes && !out_.letters.empty()) {
        full_ = true;
        out_.cut = true;
        return false;
    }
    bytes_ += cost;
    out_.letters.push_back(std::move(l));
    if (out_.letters.size() >= bounds_.count) full_ = true;
    return true;
}

dead_listing listing_builder::take(std::uint32_t total) {
    out_.total = total;
    return std::move(out_);
}

struct dead_letters::impl {
    impl(const amqp_url& u, topology t, std::chrono::milliseconds ct, const std::string& name)
        : url(u), topo(std::move(t)), dead(topo.dead_queue()), confirm_timeout(ct), connection_name(name),
          reader(url, name) {
        reader.declare(topo);
    }

    // The publisher connection, opened on the first requeue (a list never needs it). A broker
    // that blocks publishers (resource alarm) must not also stall the reader's acks.
    queue_admin& writer() {
        if (!writer_conn) writer_conn = std::make_unique<queue_admin>(url, connection_name + " (publisher)");
        return *writer_conn;
    }

    // After a scan: every letter taken and not acked goes back, then a synchronous call, so a
    // failed ack or requeue is reported (as service_error) rather than lost.
    // The queue holds at least what was there at the start and was not removed: RabbitMQ puts
    // nacked messages back asynchronously (through its delegate processes), so the count read
    // right after may miss them.
    std::uint32_t settle(std::uint32_t at_start, std::size_t taken, std::size_t removed) {
        given_back = static_cast<std::uint32_t>(taken - removed);
        reader.requeue_unacked();
        const std::uint32_t now = reader.message_count(dead);
        const std::uint32_t kept = removed >= at_start ? 0 : at_start - static_cast<std::uint32_t>(removed);
        return std::max(now, kept);
    }

    amqp_url url;
    topology topo;
    std::string dead;
    std::chrono::milliseconds confirm_timeout;
    std::string connection_name;
    queue_admin reader;
    std::unique_ptr<queue_admin> writer_conn;
    // Letters the last scan gave back: the next scan's count may still miss them (see
    // settle()), so it may look at this many more than the count says.
    std::uint32_t given_back = 0;

    std::uint32_t scan_bound(std::uint32_t count) const {
        return count > UINT32_MAX - given_back ? UINT32_MAX : count + given_back;
    }
};

namespace {

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string refusal(publish_outcome o, const std::string& queue) {
    switch (o) {
    case publish_outcome::unroutable: return "unroutable: no queue " + queue;
    case publish_outcome::nacked: return "nacked";
    case publish_outcome::overloaded:
    case publish_outcome::unavailable:
    case publish_outcome::confirmed: break;
    }
    return "no confirm in time";
}

// Ids named in `which` that `found` lacks, in the order they were named, each once.
std::vector<std::string> missing_of(const dead_selection& which, const std::set<std::string>& found) {
    std::vector<std::string> out;
    if (which.all) return out;
    std::set<std::string> told;
    for (const auto& id : which.ids)
        if (!found.count(id) && told.insert(id).second) out.push_back(id);
    return out;
}

}  // namespace

dead_letters::dead_letters(const amqp_url& url, topology topo, std::chrono::milliseconds confirm_timeout,
                           const std::string& connection_name)
    : impl_(std::make_unique<impl>(url, std::move(topo), confirm_timeout, connection_name)) {}

dead_letters::~dead_letters() = default;

const std::string& dead_letters::dead_queue() const { return impl_->dead; }
const std::string& dead_letters::task_queue() const { return impl_->topo.queue; }

std::uint32_t dead_letters::count() { return impl_->reader.message_count(impl_->dead); }

dead_listing dead_letters::list(const dead_list_bounds& b) {
    auto& r = impl_->reader;
    const std::uint32_t total = r.message_count(impl_->dead);
    const std::uint32_t bound = impl_->scan_bound(total);
    listing_builder out(b);
    // At most `bound`: dead letters arriving meanwhile are not waited for.
    std::uint32_t seen = 0;
    while (seen < bound && !out.full()) {
        auto m = r.get(impl_->dead);
        if (!m) break;
        ++seen;
        if (!out.add(m->body, m->message_id, m->type)) break;
    }
    impl_->settle(total, seen, 0);
    return out.take(std::max(total, seen));
}

requeue_report dead_letters::requeue(const dead_selection& which, std::size_t max_moved,
                                     const std::function<void(const std::string&)>& on_moved) {
    auto& r = impl_->reader;
    requeue_report rep;
    std::set<std::string> found;
    const std::uint32_t total = r.message_count(impl_->dead);
    const std::uint32_t bound = impl_->scan_bound(total);
    std::uint32_t seen = 0;
    try {
        requeue_scan(which, max_moved, on_moved, bound, seen, found, rep);
        rep.left = impl_->settle(total, seen, rep.moved.size());
    } catch (const service_error& e) {
        // A connection broke midway: what moved is reported; every letter not acked is still
        // in the dead queue (the broker gives back what a closed channel held), perhaps also
        // queued if its copy was confirmed and the ack was lost.
        rep.trouble = std::string("the broker connection failed midway (") + e.what() + "); the letters not reported " +
                      "requeued stay in " + impl_->dead;
        rep.left = static_cast<std::uint32_t>(total - std::min<std::size_t>(total, rep.moved.size()));
        return rep;
    }
    if (rep.trouble.empty() && (max_moved == 0 || rep.moved.size() < max_moved)) rep.missing = missing_of(which, found);
    return rep;
}

void dead_letters::requeue_scan(const dead_selection& which, std::size_t max_moved,
                                const std::function<void(const std::string&)>& on_moved, std::uint32_t bound,
                                std::uint32_t& seen, std::set<std::string>& found, requeue_report& rep) {
    auto& r = impl_->reader;
    while (seen < bound && (max_moved == 0 || rep.moved.size() < max_moved)) {
        auto m = r.get(impl_->dead);
        if (!m) break;
        ++seen;
        auto d = summarize_dead_letter(m->body, m->message_id, m->type);
        if (!which.selects(d.id)) continue;  // stays: given back by settle()
        found.insert(d.id);
        std::string why;
        auto body = requeue_body(m->body, why);
        if (!body) {
            rep.kept.push_back({d.id, why});
            continue;
        }
        outgoing_message msg;
        msg.routing_key = impl_->topo.queue;
        msg.body = std::move(*body);
        msg.message_id = d.id;
        msg.type = d.type;
        msg.timestamp = now_seconds();
        const auto outcome = impl_->writer().publish(msg, impl_->confirm_timeout);
        if (outcome != publish_outcome::confirmed) {
            rep.trouble = d.id + ": the broker did not accept it (" + refusal(outcome, impl_->topo.queue) +
                          "); it stays in " + impl_->dead;
            break;
        }
        r.ack(m->tag);  // only now: the copy is safe in the task queue
        rep.moved.push_back(d.id);
        if (on_moved) on_moved(d.id);
    }
}

purge_report dead_letters::purge(const dead_selection& which) {
    auto& r = impl_->reader;
    purge_report rep;
    if (which.all) {
        rep.purged = r.purge(impl_->dead);
        rep.left = r.message_count(impl_->dead);
        impl_->given_back = 0;
        return rep;
    }
    std::set<std::string> found;
    const std::uint32_t total = r.message_count(impl_->dead);
    const std::uint32_t bound = impl_->scan_bound(total);
    std::uint32_t seen = 0;
    while (seen < bound) {
        auto m = r.get(impl_->dead);
        if (!m) break;
        ++seen;
        auto d = summarize_dead_letter(m->body, m->message_id, m->type);
        if (!which.selects(d.id)) continue;
        found.insert(d.id);
        r.ack(m->tag);
        ++rep.purged;
    }
    rep.left = impl_->settle(total, seen, rep.purged);
    rep.missing = missing_of(which, found);
    return rep;
}

}  // namespace pfo3::queue
