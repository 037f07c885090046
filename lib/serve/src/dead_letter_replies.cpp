#include "pfo3/serve/dead_letter_replies.hpp"

#include <algorithm>

#include "pfo3/json/message.hpp"
#include "pfo3/json/value.hpp"

namespace pfo3::serve {

namespace {

// A string field: null when empty (the letter lacks it).
void text(std::string& out, std::string_view name, const std::string& s) {
    out.append(",\"").append(name).append("\":");
    if (s.empty()) out.append("null");
    else json::append_quoted(out, s);
}

void id_array(std::string& out, std::string_view name, const std::vector<std::string>& ids) {
    out.append(",\"").append(name).append("\":[");
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) out.push_back(',');
        json::append_quoted(out, ids[i]);
    }
    out.push_back(']');
}

// The most unnamed kept letters a decoded requeue answer stands for.
constexpr std::size_t max_kept_counted = 10'000'000;

std::string string_of(json::value v, std::string_view name) {
    auto f = v.find(name);
    return f && f->is(json::kind::string) ? std::string(f->string()) : std::string();
}

std::uint32_t count_of(json::value v, std::string_view name) {
    auto f = v.find(name);
    auto n = f ? f->uint64() : std::nullopt;
    return n && *n <= UINT32_MAX ? static_cast<std::uint32_t>(*n) : 0;
}

bool flag_of(json::value v, std::string_view name) {
    auto f = v.find(name);
    return f && f->is(json::kind::boolean) && f->boolean();
}

std::vector<std::string> ids_of(json::value v, std::string_view name) {
    std::vector<std::string> out;
    auto f = v.find(name);
    if (!f || !f->is(json::kind::array)) return out;
    for (std::size_t i = 0; i < f->size(); ++i)
        if ((*f)[i].is(json::kind::string)) out.emplace_back((*f)[i].string());
    return out;
}

// The answer `line` if it is an object answering `op`; else nullopt with `why`.
std::optional<json::document> answer_of(std::string_view line, std::string_view op, std::string& why) {
    auto doc = json::parse(line, why);
    if (!doc) return std::nullopt;
    auto o = doc->root().find("op");
    if (!o || !o->is(json::kind::string) || o->string() != op) {
        why = "not an answer to " + std::string(op);
        return std::nullopt;
    }
    return doc;
}

}  // namespace

std::optional<queue::dead_listing> decode_dead_listing(std::string_view line, std::string& queue, std::string& why) {
    auto doc = answer_of(line, "dead_list", why);
    if (!doc) return std::nullopt;
    const json::value root = doc->root();
    queue::dead_listing l;
    queue = string_of(root, "queue");
    l.total = count_of(root, "total");
    l.cut = flag_of(root, "cut");
    auto letters = root.find("letters");
    if (!letters || !letters->is(json::kind::array)) {
        why = "no \"letters\" array";
        return std::nullopt;
    }
    for (std::size_t i = 0; i < letters->size(); ++i) {
        const json::value x = (*letters)[i];
        queue::listed_letter out;
        out.summary.id = string_of(x, "id");
        out.summary.type = string_of(x, "type");
        out.summary.submitted_at = string_of(x, "submitted_at");
        out.summary.error = string_of(x, "error");
        out.summary.attempt = static_cast<int>(count_of(x, "attempt"));
        out.body = string_of(x, "body");
        out.body_size = count_of(x, "body_bytes");
        out.body_cut = flag_of(x, "body_cut");
        l.letters.push_back(std::move(out));
    }
    return l;
}

std::optional<queue::requeue_report> decode_requeue_report(std::string_view line, std::string& queue, bool& more,
                                                          std::string& why) {
    auto doc = answer_of(line, "dead_requeue", why);
    if (!doc) return std::nullopt;
    const json::value root = doc->root();
    queue = string_of(root, "queue");
    queue::requeue_report r;
    r.moved = ids_of(root, "requeued");
    r.missing = ids_of(root, "missing");
    r.left = count_of(root, "left");
    more = flag_of(root, "more");
    if (!flag_of(root, "ok")) r.trouble = string_of(root, "message");
    if (auto kept = root.find("kept"); kept && kept->is(json::kind::array))
        for (std::size_t i = 0; i < kept->size(); ++i)
            r.kept.push_back({string_of((*kept)[i], "id"), string_of((*kept)[i], "why")});
    // Letters kept beyond those named: counted, not named (a count that no dead queue could
    // hold is not believed, so a broken answer cannot make the client allocate without bound).
    const std::size_t kept_count = std::min<std::size_t>(count_of(root, "kept_count"), max_kept_counted);
    for (std::size_t n = r.kept.size(); n < kept_count; ++n) r.kept.push_back({});
    return r;
}

std::optional<queue::purge_report> decode_purge_report(std::string_view line, std::string& queue, std::string& why) {
    auto doc = answer_of(line, "dead_purge", why);
    if (!doc) return std::nullopt;
    const json::value root = doc->root();
    queue = string_of(root, "queue");
    queue::purge_report r;
    r.purged = count_of(root, "purged");
    r.missing = ids_of(root, "missing");
    r.left = count_of(root, "left");
    return r;
}

std::string encode_dead_listing(const std::string& dead_queue, const queue::dead_listing& l) {
    std::string out = "{\"ok\":true,\"op\":\"dead_list\",\"queue\":";
    json::append_quoted(out, dead_queue);
    out.append(",\"total\":").append(std::to_string(l.total));
    out.append(",\"listed\":").append(std::to_string(l.letters.size()));
    out.append(",\"cut\":").append(l.cut ? "true" : "false");
    out.append(",\"letters\":[");
    for (std::size_t i = 0; i < l.letters.size(); ++i) {
        const auto& x = l.letters[i];
        out.append(i ? ",{" : "{").append("\"attempt\":").append(std::to_string(x.summary.attempt));
        text(out, "id", x.summary.id);
        text(out, "type", x.summary.type);
        text(out, "submitted_at", x.summary.submitted_at);
        text(out, "error", x.summary.error);
        // The body as text (one line of JSON, or a JSON string of undecodable bytes): a cut
        // body is no longer JSON, so it cannot be embedded as a value.
        out.append(",\"body\":");
        json::append_quoted(out, x.body);
        out.append(",\"body_bytes\":").append(std::to_string(x.body_size));
        out.append(",\"body_cut\":").append(x.body_cut ? "true" : "false").append("}");
    }
    out.append("]}\n");
    return out;
}

std::string encode_requeue_report(const std::string& task_queue, const queue::requeue_report& r, bool more) {
    std::string out = r.trouble.empty() ? "{\"ok\":true,\"op\":\"dead_requeue\"" : "{\"ok\":false,\"op\":\"dead_requeue\",\"error\":\"unavailable\"";
    if (!r.trouble.empty()) text(out, "message", r.trouble);
    out.append(",\"queue\":");
    json::append_quoted(out, task_queue);
    id_array(out, "requeued", r.moved);
    out.append(",\"kept\":[");
    const std::size_t named = std::min(r.kept.size(), max_kept_named);
    for (std::size_t i = 0; i < named; ++i) {
        out.append(i ? ",{" : "{").append("\"id\":");
        if (r.kept[i].id.empty()) out.append("null");
        else json::append_quoted(out, r.kept[i].id);
        out.append(",\"why\":");
        json::append_quoted(out, r.kept[i].why);
        out.push_back('}');
    }
    out.append("],\"kept_count\":").append(std::to_string(r.kept.size()));
    id_array(out, "missing", r.missing);
    out.append(",\"left\":").append(std::to_string(r.left));
    out.append(",\"more\":").append(more ? "true" : "false").append("}\n");
    return out;
}

std::string encode_purge_report(const std::string& dead_queue, const queue::purge_report& r) {
    std::string out = "{\"ok\":true,\"op\":\"dead_purge\",\"queue\":";
    json::append_quoted(out, dead_queue);
    out.append(",\"purged\":").append(std::to_string(r.purged));
    id_array(out, "missing", r.missing);
    out.append(",\"left\":").append(std::to_string(r.left)).append("}\n");
    return out;
}

}  // namespace pfo3::serve
