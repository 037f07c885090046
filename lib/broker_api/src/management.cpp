#include "pfo3/broker_api/management.hpp"

#include <curl/curl.h>

#include <memory>

#include "pfo3/core/error.hpp"
#include "pfo3/json/value.hpp"

namespace pfo3::broker_api {

namespace {

// A page of 500 queues is ~1 MB of JSON at most with the columns asked for.
constexpr std::size_t max_response_bytes = 16 * 1024 * 1024;
constexpr int page_size = 500;

struct easy_deleter {
    void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};

void global_init_once() {
    // Exactly once per process; never cleaned up (another thread may use libcurl).
    static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (init != CURLE_OK) throw service_error(std::string("libcurl initialisation failed: ") + curl_easy_strerror(init), false);
}

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
    auto& body = *static_cast<std::string*>(out);
    if (body.size() + size * n > max_response_bytes) return 0;  // libcurl fails with CURLE_WRITE_ERROR
    body.append(data, size * n);
    return size * n;
}

std::string escaped(CURL* h, std::string_view s) {
    std::unique_ptr<char, decltype(&curl_free)> e(curl_easy_escape(h, s.data(), static_cast<int>(s.size())), &curl_free);
    if (!e) throw service_error("libcurl: curl_easy_escape failed (out of memory)", true);
    return e.get();
}

// An Erlang regular expression matching exactly `s`.
std::string regex_literal(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

std::string text_of(json::value v) {
    if (v.is(json::kind::string)) return std::string(v.string());
    if (auto i = v.int64()) return std::to_string(*i);
    return v.compact();
}

std::vector<std::string> strings_of(std::optional<json::value> v) {
    std::vector<std::string> out;
    if (!v || !v->is(json::kind::array)) return out;
    for (std::size_t i = 0; i < v->size(); ++i)
        if ((*v)[i].is(json::kind::string)) out.emplace_back((*v)[i].string());
    return out;
}

std::int64_t count_of(std::optional<json::value> v) {
    if (!v) return -1;
    return v->int64().value_or(-1);
}

std::string get(CURL* h, const endpoint& ep, const std::string& url) {
    std::string body;
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, ep.user.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, ep.password.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(ep.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(ep.timeout.count()));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!ep.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ep.ca_file.c_str());
    const CURLcode rc = curl_easy_perform(h);
    const std::string where = "management API " + ep.url + ": ";
    if (rc != CURLE_OK)
        throw service_error(where + curl_easy_strerror(rc) + (error[0] ? std::string(": ") + error : std::string()) +
                                " (is the plugin enabled? rabbitmq-plugins enable rabbitmq_management)",
                            rc != CURLE_URL_MALFORMAT && rc != CURLE_UNSUPPORTED_PROTOCOL);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status == 401)
        throw service_error(where + "user '" + ep.user +
                                "' refused (401): the API needs a user with the `monitoring` tag "
                                "(rabbitmqctl set_user_tags " + ep.user + " monitoring)",
                            false);
    if (status == 404) throw service_error(where + "not found (404): no such vhost, or not the management API", false);
    if (status != 200)
        throw service_error(where + "HTTP " + std::to_string(status) + ": " + body.substr(0, 200), status >= 500);
    return body;
}

}  // namespace

std::vector<broker_queue> parse_queue_page(std::string_view body, std::int64_t& pages) {
    std::string why;
    auto doc = json::parse(body, why);
    if (!doc) throw service_error("management API: the answer is not JSON: " + why, false);
    const auto root = doc->root();
    const auto items = root.find("items");
    if (!items || !items->is(json::kind::array))
        throw service_error("management API: the answer has no \"items\" (not a page of queues)", false);
    pages = count_of(root.find("page_count"));
    std::vector<broker_queue> out;
    out.reserve(items->size());
    for (std::size_t i = 0; i < items->size(); ++i) {
        const auto q = (*items)[i];
        broker_queue b;
        if (auto v = q.find("name")) b.name = text_of(*v);
        if (auto v = q.find("type")) b.type = text_of(*v);
        if (auto v = q.find("leader"); v && v->is(json::kind::string)) b.leader = text_of(*v);
        b.members = strings_of(q.find("members"));
        b.online = strings_of(q.find("online"));
        if (b.members.empty()) {  // classic: one node
            if (auto v = q.find("node"); v && v->is(json::kind::string)) {
                b.leader = text_of(*v);
                b.members = {b.leader};
                b.online = {b.leader};
            }
        }
        if (auto args = q.find("arguments"); args && args->is(json::kind::object))
            for (std::size_t a = 0; a < args->size(); ++a) {
                const auto m = args->member_at(a);
                b.arguments.emplace_back(std::string(m.name), text_of(m.value));
            }
        b.messages = count_of(q.find("messages"));
        b.consumers = count_of(q.find("consumers"));
        out.push_back(std::move(b));
    }
    return out;
}

std::vector<broker_queue> list_queues(const endpoint& ep, const std::string& vhost, const std::string& prefix) {
    global_init_once();
    std::unique_ptr<CURL, easy_deleter> h(curl_easy_init());
    if (!h) throw service_error("libcurl: curl_easy_init failed (out of memory)", true);
    const std::string base = ep.url + (ep.url.ends_with('/') ? "" : "/") + "api/queues/" + escaped(h.get(), vhost) +
                             "?columns=name,type,arguments,leader,members,online,node,messages,consumers" +
                             "&use_regex=true&name=" + escaped(h.get(), "^" + regex_literal(prefix) + "(\\..*)?$") +
                             "&page_size=" + std::to_string(page_size) + "&page=";
    std::vector<broker_queue> all;
    std::int64_t pages = 1;
    for (std::int64_t page = 1; page <= pages; ++page) {
        auto some = parse_queue_page(get(h.get(), ep, base + std::to_string(page)), pages);
        for (auto& q : some) all.push_back(std::move(q));
    }
    return all;
}

}  // namespace pfo3::broker_api
