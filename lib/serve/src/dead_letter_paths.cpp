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
        for (std::size_t from = 0; from < which.ids.size() && total.trouble.empty(); from += json::max_dead_ids) {
            const auto end = which.ids.begin() + static_cast<std::ptrdiff_t>(std::min(which.ids.size(), from + json::max_dead_ids));
            auto [r, more] = one("{\"op\":\"dead_requeue\",\"ids\":" + id_array(which.ids.begin() + static_cast<std::ptrdiff_t>(from), end) + "}");
            total.kept.insert(total.kept.end(), r.kept.begin(), r.kept.end());
        }
        return total;
    }

    queue::purge_report purge(const queue::dead_selection& which, std::string& dead_queue) override {
        if (which.all) {
            const std::string line = ask("{\"op\":\"dead_purge\",\"all\":true}");
            return decoded(serve::decode_purge_report(line, dead_queue, why_), line);
        }
        queue::purge_report total;
        for (std::size_t from = 0; from < which.ids.size(); from += json::max_dead_ids) {
            const auto begin = which.ids.begin() + static_cast<std::ptrdiff_t>(from);
            const auto end = which.ids.begin() + static_cast<std::ptrdiff_t>(std::min(which.ids.size(), from + json::max_dead_ids));
            const std::string line = ask("{\"op\":\"dead_purge\",\"ids\":" + id_array(begin, end) + "}");
            auto r = decoded(serve::decode_purge_report(line, dead_queue, why_), line);
            total.purged += r.purged;
            total.missing.insert(total.missing.end(), r.missing.begin(), r.missing.end());
            total.left = r.left;
        }
        return total;
    }

private:
    static std::string id_array(std::vector<std::string>::const_iterator b, std::vector<std::string>::const_iterator e) {
        std::string out = "[";
        for (auto i = b; i != e; ++i) {
            if (i != b) out.push_back(',');
            json::append_quoted(out, *i);
        }
        return out + "]";
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
