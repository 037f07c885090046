#include "pfo3/serve/dead_letter_paths.hpp"

#include <algorithm>
#include <optional>

#include "pfo3/core/error.hpp"
#include "pfo3/json/message.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/serve/dead_letter_replies.hpp"

namespace pfo3::serve {

namespace {

// One request over serve may move max_dead_limit letters, each waiting for a confirm.
constexpr auto answer_timeout = std::chrono::minutes(5);

class direct_path final : public dead_letter_path {
public:
    direct_path(const queue::amqp_url& url, const queue::topology& topo, std::chrono::milliseconds confirm_timeout)
        : d_(url, topo, confirm_timeout, "pfo3-dead") {}

    queue::dead_listing list(std::size_t limit, std::string& dead_queue) override {
        dead_queue = d_.dead_queue();
        return d_.list({limit, SIZE_MAX, SIZE_MAX});
    }
    queue::requeue_report requeue(const queue::dead_selection& which, std::string& task_queue,
                                  const progress& moved) override {
        task_queue = d_.task_queue();
        std::vector<std::string> so_far;
        return d_.requeue(which, 0, [&](const std::string& id) {
            so_far.assign(1, id);
            moved(so_far, 0);
        });
    }
    queue::purge_report purge(const queue::dead_selection& which, std::string& dead_queue) override {
        dead_queue = d_.dead_queue();
        return d_.purge(which);
    }

private:
    queue::dead_letters d_;
};

class serve_path final : public dead_letter_path {
public:
    serve_path(const std::string& server, const net::client_options& o, std::size_t batch)
        : server_(server), c_(server, o), batch_(batch == 0 ? 1 : batch) {}

    queue::dead_listing list(std::size_t limit, std::string& dead_queue) override {
        const std::size_t n = limit == 0 ? json::max_dead_limit : std::min(limit, json::max_dead_limit);
        const std::string line = ask("{\"op\":\"dead_list\",\"limit\":" + std::to_string(n) + "}");
        return decoded(serve::decode_dead_listing(line, dead_queue, why_), line);
    }

    queue::requeue_report requeue(const queue::dead_selection& which, std::string& task_queue,
                                  const progress& moved) override {
        queue::requeue_report total;
        auto one = [&](const std::string& request) {
            const std::string line = ask(request);
            bool more = false;
            auto r = decoded(serve::decode_requeue_report(line, task_queue, more, why_), line);
            total.moved.insert(total.moved.end(), r.moved.begin(), r.moved.end());
            if (!r.moved.empty()) moved(r.moved, r.left);
            total.missing.insert(total.missing.end(), r.missing.begin(), r.missing.end());
            total.left = r.left;
            total.trouble = r.trouble;
            return std::pair{std::move(r), more};
        };
        if (which.all) {
            // In batches, so progress shows; never more than were dead at the start, so letters
            // that die again meanwhile (the handler still missing) are not chased round.
            std::string ignored;
            const std::uint32_t at_start = list(1, ignored).total;
            // Letters that can never be tasks stay at the head and are seen by every batch.
            while (total.moved.size() + total.kept.size() < at_start) {
                const std::size_t n =
                    std::min<std::size_t>(batch_, at_start - total.moved.size() - total.kept.size());
                auto [r, more] = one("{\"op\":\"dead_requeue\",\"all\":true,\"limit\":" + std::to_string(n) + "}");
                total.kept = std::move(r.kept);  // each batch looks at every letter before its last: the latest are all
                if (!total.trouble.empty() || !more) break;
            }
            return total;
        }
        by_ids("dead_requeue", which.ids, [&](const std::string& request) {
            auto [r, more] = one(request);
            total.kept.insert(total.kept.end(), r.kept.begin(), r.kept.end());
            return total.trouble.empty();
        });
        return total;
    }

    queue::purge_report purge(const queue::dead_selection& which, std::string& dead_queue) override {
        if (which.all) {
            const std::string line = ask("{\"op\":\"dead_purge\",\"all\":true}");
            return decoded(serve::decode_purge_report(line, dead_queue, why_), line);
        }
        queue::purge_report total;
        by_ids("dead_purge", which.ids, [&](const std::string& request) {
            const std::string line = ask(request);
            auto r = decoded(serve::decode_purge_report(line, dead_queue, why_), line);
            total.purged += r.purged;
            total.missing.insert(total.missing.end(), r.missing.begin(), r.missing.end());
            total.left = r.left;
            return true;
        });
        return total;
    }

private:
    // {"op":OP,"ids":[…]} for each run of at most json::max_dead_ids of `ids`, in order, handed
    // to `send` while it returns true.
    template <typename Send>
    static void by_ids(std::string_view op, const std::vector<std::string>& ids, Send send) {
        for (std::size_t from = 0; from < ids.size(); from += json::max_dead_ids) {
            std::string request = "{\"op\":\"";
            request.append(op).append("\",\"ids\":[");
            for (std::size_t i = from; i < std::min(ids.size(), from + json::max_dead_ids); ++i) {
                if (i != from) request.push_back(',');
                json::append_quoted(request, ids[i]);
            }
            if (!send(request + "]}")) return;
        }
    }

    // One request, one answer. A refusal is printed and ends the command; a dead_requeue that
    // stopped midway (ok:false with its fields) is an answer.
    std::string ask(const std::string& request) {
        c_.write(request + "\n");
        auto line = c_.read_line(answer_timeout);
        if (!line) throw service_error("serve at " + server_ + " closed the connection without answering", true);
        auto r = json::decode_response(*line);
        if (r && (r->ok || line->find("\"op\":\"dead_requeue\"") != std::string::npos)) return *line;
        if (!r) throw dead_letter_refusal("bad_response", *line);
        throw dead_letter_refusal(r->error, r->message);
    }

    template <class T>
    T decoded(std::optional<T> v, const std::string& line) {
        if (v) return std::move(*v);
        throw dead_letter_refusal("bad_response", why_ + ": " + line);
    }

    std::string server_;
    net::client c_;
    std::size_t batch_;
    std::string why_;
};

}  // namespace

std::unique_ptr<dead_letter_path> dead_letters_through_serve(const std::string& server, const net::client_options& o,
                                                             std::size_t batch) {
    return std::make_unique<serve_path>(server, o, batch);
}

std::unique_ptr<dead_letter_path> dead_letters_direct(const queue::amqp_url& url, const queue::topology& topo,
                                                      std::chrono::milliseconds confirm_timeout) {
    return std::make_unique<direct_path>(url, topo, confirm_timeout);
}

}  // namespace pfo3::serve
