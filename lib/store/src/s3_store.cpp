#include "s3_store.hpp"

#include <openssl/evp.h>

#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "newest_records.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/core/task_id.hpp"
#include "record_codec.hpp"

namespace pfo3::store {

namespace {

// Error answers are a few hundred bytes of XML; anything far larger is not S3 talking.
// Where the markers of pending cancels live, under the prefix (decision 0015). Ids hold no
// '/', so no record key (ID.json) is ever under it.
constexpr std::string_view cancel_marker_dir = "cancels/";
constexpr std::string_view empty_body = "";  // data() is not null: libcurl reads a null body from a callback
// One page of a listing (1000 keys of at most 1 KiB, and the XML around them).
constexpr std::size_t max_list_bytes = std::size_t{4} << 20;

constexpr std::size_t max_error_bytes = 64 * 1024;
// Larger than any record a worker writes (as in the file store), so only a foreign object hits it.
constexpr std::size_t max_record_bytes = std::size_t{128} << 20;
constexpr std::string_view probe_name = ".pfo3-probe";
constexpr std::string_view probe_body = R"({"written_by":"pfo3","why":"start-up check that the bucket exists and the credentials may write"})";

std::string sha256_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1)
        throw service_error("s3 store: OpenSSL could not compute a SHA-256 digest", false);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * len);
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

// The text of the first <tag>…</tag> in an S3 error document, cut short and made printable.
std::string xml_tag(std::string_view xml, std::string_view tag) {
    std::string open = "<" + std::string(tag) + ">";
    std::string close = "</" + std::string(tag) + ">";
    auto b = xml.find(open);
    if (b == std::string_view::npos) return {};
    b += open.size();
    auto e = xml.find(close, b);
    if (e == std::string_view::npos) return {};
    std::string s(xml.substr(b, std::min<std::size_t>(e - b, 300)));
    for (auto& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return s;
}

// What to do about an S3 error code, in words an operator can act on.
// `from_config`: the keys came from the config file, so that is where to look.
std::string_view hint(std::string_view code, bool from_config) {
    if (code == "SignatureDoesNotMatch")
        return from_config ? " (check store.s3_secret_access_key)" : " (check AWS_SECRET_ACCESS_KEY)";
    if (code == "InvalidAccessKeyId")
        return from_config ? " (check store.s3_access_key_id)" : " (check AWS_ACCESS_KEY_ID)";
    if (code == "NoSuchBucket") return " (create the bucket or fix store.uri)";
    if (code == "AccessDenied") return " (the credentials need s3:PutObject and s3:GetObject on the prefix)";
    if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect")
        return " (check the region in store.uri)";
    if (code == "RequestTimeTooSkewed") return " (this host's clock is off)";
    return {};
}

// What to do about a TLS failure, in words an operator can act on; empty for other failures.
std::string_view tls_hint(CURLcode code, bool has_ca_file) {
    if (code == CURLE_PEER_FAILED_VERIFICATION)
        return has_ca_file ? " (TLS: the server's certificate does not chain to ca_file, or is not valid for the "
                             "endpoint's host name)"
                           : " (TLS: the server's certificate is not trusted by the system's CAs or is not valid for "
                             "the endpoint's host name; a private CA goes into store.uri as ca_file=/path/ca.pem)";
    if (code == CURLE_SSL_CACERT_BADFILE) return " (TLS: check ca_file in store.uri)";
    if (code == CURLE_SSL_CONNECT_ERROR) return " (TLS handshake with the endpoint failed)";
    return {};
}

std::string shown_id(std::string_view id) {
    std::string s(id.substr(0, 140));
    for (auto& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return "'" + s + "'";
}

// A response body, bounded: past `limit` the transfer is aborted instead of eating memory.
struct response_buffer {
    std::string text;
    std::size_t limit = max_error_bytes;
    bool too_large = false;
};

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
    auto* buf = static_cast<response_buffer*>(user);
    std::size_t n = size * count;
    if (buf->text.size() + n > buf->limit) {
        buf->too_large = true;
        return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
    }
    buf->text.append(data, n);
    return n;
}

template <typename T>
void set(CURL* h, CURLoption option, T value) {
    CURLcode rc = curl_easy_setopt(h, option, value);
    if (rc != CURLE_OK)
        throw service_error("s3 store: libcurl refused option " + std::to_string(static_cast<int>(option)) +
                                ": " + curl_code_text(rc, nullptr),
                            false);
}

void check_multi(CURLMcode rc, const char* call) {
    if (rc != CURLM_OK)
        throw service_error(std::string("s3 store: ") + call + " failed: " + curl_multi_strerror(rc),
                            rc == CURLM_OUT_OF_MEMORY);
}

}  // namespace

// One HTTP request and, once performed, its outcome.
struct s3_store::request {
    const char* method = "GET";
    std::string key;
    std::string query;      // encoded, parameters in sorted order (SigV4 signs them as given)
    std::string record_id;  // the record this request writes or reads, if any
    std::string url;
    std::string_view body;
    std::string body_sha256;
    unique_slist headers;

    CURLcode code = CURLE_OK;
    long status = 0;
    response_buffer response;
    char error[CURL_ERROR_SIZE] = {};
    verdict_kind outcome = verdict_kind::retry;

    void clear_outcome() {
        code = CURLE_OK;
        status = 0;
        response.text.clear();
        response.too_large = false;
        error[0] = '\0';
    }
};

s3_credentials s3_credentials::resolve(const s3_config_keys& config) {
    auto env = [](const char* name) {
        const char* v = std::getenv(name);
        return std::string(v ? v : "");
    };
    // The environment over the file, as for every other setting (SPEC 2), but as a pair: a key
    // id from one place and a secret from the other would never sign.
    s3_credentials c{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN"), false};
    if (!c.access_key_id.empty() && !c.secret_access_key.empty()) return c;
    c = {config.access_key_id, config.secret_access_key, config.session_token, true};
    if (!c.access_key_id.empty() && !c.secret_access_key.empty()) return c;
    throw config_error("s3 store: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                       "environment, or store.s3_access_key_id and store.s3_secret_access_key in the config");
}

s3_store::s3_store(s3_location where, s3_credentials credentials, s3_store_options options)
    : where_(std::move(where)),
      credentials_(std::move(credentials)),
      options_(options),
      sigv4_("aws:amz:" + where_.region + ":s3") {
    if (options_.max_parallel < 1) options_.max_parallel = 1;
    if (options_.max_attempts < 1) options_.max_attempts = 1;
    curl_global_once();
    multi_ = make_curl_multi();
    // Keep one open connection per parallel PUT between write() calls.
    check_multi(curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_parallel)),
                "curl_multi_setopt");
    check_multi(curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS,
                                  static_cast<long>(options_.max_parallel)),
                "curl_multi_setopt");

    // Fail at start-up, not at the first task, if results could never be stored: the probe
    // needs the bucket to exist and the same rights a result PUT needs.
    request probe;
    probe.method = "PUT";
    probe.key = where_.key(probe_name);
    probe.body = probe_body;
    request* batch[] = {&probe};
    std::lock_guard lock(mutex_);
    run_with_retries(batch, "start-up check: PUT");
    if (probe.outcome != verdict_kind::ok) fail(probe, judge(probe), "start-up check: PUT");
}

s3_store::~s3_store() = default;

void s3_store::configure(CURL* h, request& r) {
    // A reset keeps the handle's live connections; only the options start afresh.
    curl_easy_reset(h);
    r.clear_outcome();
    if (r.body_sha256.empty()) r.body_sha256 = sha256_hex(r.body);
    r.url = where_.object_url(r.key);
    if (!r.query.empty()) {
        // A request on the bucket itself (a listing): path-style URLs end at the bucket name, as
        // S3-compatible servers sign "/bucket/" differently; virtual-hosted ones keep "/".
        if (r.key.empty() && where_.path_style && r.url.ends_with('/')) r.url.pop_back();
        r.url += "?" + r.query;
    }
    r.headers.reset();
    // libcurl signs with SigV4 but leaves the payload hash to us; S3 refuses requests without it.
    curl_append_header(r.headers, "x-amz-content-sha256: " + r.body_sha256);
    if (!credentials_.session_token.empty())
        curl_append_header(r.headers, "x-amz-security-token: " + credentials_.session_token);
    if (std::string_view(r.method) == "PUT") {
        // No "Expect:" override here: libcurl 7.88 signs the empty header it never sends, and
        // the signature no longer matches. It only asks for 100-continue above 1 MiB anyway.
        curl_append_header(r.headers, "Content-Type: application/json");
    }

    set(h, CURLOPT_NOSIGNAL, 1L);
    set(h, CURLOPT_PROTOCOLS_STR, "http,https");
    set(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
    set(h, CURLOPT_TCP_KEEPALIVE, 1L);
    // libcurl's defaults, written down: https is verified, name and chain, never silently not.
    set(h, CURLOPT_SSL_VERIFYPEER, 1L);
    set(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!where_.ca_file.empty()) set(h, CURLOPT_CAINFO, where_.ca_file.c_str());
    set(h, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    set(h, CURLOPT_USERNAME, credentials_.access_key_id.c_str());
    set(h, CURLOPT_PASSWORD, credentials_.secret_access_key.c_str());
    set(h, CURLOPT_URL, r.url.c_str());
    set(h, CURLOPT_HTTPHEADER, r.headers.get());
    set(h, CURLOPT_WRITEFUNCTION, &on_data);
    set(h, CURLOPT_WRITEDATA, static_cast<void*>(&r.response));
    set(h, CURLOPT_ERRORBUFFER, r.error);
    set(h, CURLOPT_PRIVATE, static_cast<void*>(&r));
    if (std::string_view(r.method) == "PUT") {
        set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
        set(h, CURLOPT_POSTFIELDS, r.body.data());
        set(h, CURLOPT_CUSTOMREQUEST, "PUT");
    } else {
        set(h, CURLOPT_HTTPGET, 1L);
        if (std::string_view(r.method) == "DELETE") set(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
}

void s3_store::perform(std::span<request* const> batch) {
    std::vector<CURL*> idle;
    for (auto& h : handles_) idle.push_back(h.get());
    std::vector<CURL*> busy;
    // Whatever happens, no easy handle may stay attached to the multi handle.
    struct detach_all {
        CURLM* multi;
        std::vector<CURL*>& busy;
        ~detach_all() {
            for (CURL* h : busy) curl_multi_remove_handle(multi, h);
        }
    } guard{multi_.get(), busy};

    std::size_t next = 0;
    auto limit = static_cast<std::size_t>(options_.max_parallel);
    while (next < batch.size() || !busy.empty()) {
        while (next < batch.size() && busy.size() < limit) {
            if (idle.empty()) {
                handles_.push_back(make_curl_easy());
                idle.push_back(handles_.back().get());
            }
            CURL* h = idle.back();
            configure(h, *batch[next]);
            check_multi(curl_multi_add_handle(multi_.get(), h), "curl_multi_add_handle");
            idle.pop_back();
            busy.push_back(h);
            ++next;
        }
        int running = 0;
        check_multi(curl_multi_perform(multi_.get(), &running), "curl_multi_perform");
        int queued = 0;
        while (CURLMsg* m = curl_multi_info_read(multi_.get(), &queued)) {
            if (m->msg != CURLMSG_DONE) continue;
            CURL* h = m->easy_handle;
            char* priv = nullptr;
            curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
            auto* r = reinterpret_cast<request*>(priv);
            r->code = m->data.result;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
            r->outcome = judge(*r).kind;
            curl_multi_remove_handle(multi_.get(), h);
            std::erase(busy, h);
            idle.push_back(h);
        }
        if (!busy.empty() && running > 0)
            check_multi(curl_multi_poll(multi_.get(), nullptr, 0, 1000, nullptr), "curl_multi_poll");
    }
}

s3_store::verdict s3_store::judge(const request& r) const {
    if (r.code != CURLE_OK) {
        if (r.response.too_large)
            return {verdict_kind::fail, "the answer is larger than " + std::to_string(r.response.limit) + " bytes",
                    false};
        return {curl_code_retryable(r.code) ? verdict_kind::retry : verdict_kind::fail,
                curl_code_text(r.code, r.error) + std::string(tls_hint(r.code, !where_.ca_file.empty())), false};
    }
    if (r.status >= 200 && r.status < 300) return {verdict_kind::ok, {}, false};
    std::string code = xml_tag(r.response.text, "Code");
    std::string why = "HTTP " + std::to_string(r.status);
    if (!code.empty()) why += " " + code;
    if (auto message = xml_tag(r.response.text, "Message"); !message.empty()) why += ": " + message;
    why += hint(code, credentials_.from_config);
    if (r.status == 404 && std::string_view(r.method) == "GET" && (code.empty() || code == "NoSuchKey"))
        return {verdict_kind::not_found, std::move(why), false};
    bool retry = r.status >= 500 || r.status == 429 || r.status == 408 || code == "RequestTimeout" ||
                 code == "SlowDown" || code == "InternalError";
    // The object or its key is too large: the record's own size, whatever the store's state.
    const bool too_large =
        r.status == 413 || (r.status == 400 && (code == "EntityTooLarge" || code == "KeyTooLongError"));
    return {retry ? verdict_kind::retry : verdict_kind::fail, std::move(why), too_large};
}

void s3_store::fail(const request& r, const verdict& v, const char* what) const {
    std::string message = "s3 store " + where_.describe() + ": " + what + " " + r.key + ": " + v.why;
    if (v.record_fault && !r.record_id.empty()) throw record_rejected(std::move(message), r.record_id);
    throw service_error(std::move(message), v.kind == verdict_kind::retry);
}

void s3_store::run_with_retries(std::span<request* const> batch, const char* what) {
    std::vector<request*> pending(batch.begin(), batch.end());
    for (int attempt = 1;; ++attempt) {
        perform(pending);
        std::vector<request*> again;
        for (request* r : pending) {
            if (r->outcome == verdict_kind::fail) fail(*r, judge(*r), what);
            if (r->outcome == verdict_kind::retry) again.push_back(r);
        }
        if (again.empty()) return;
        if (attempt >= options_.max_attempts) {
            auto last = judge(*again.back());
            std::string n = again.size() == 1 ? std::string() : std::to_string(again.size()) + " requests failed; last ";
            throw service_error("s3 store " + where_.describe() + ": " + n + what + " " + again.back()->key +
                                    " failed " + std::to_string(attempt) + " times: " + last.why,
                                true);
        }
        PFO3_LOG(debug, "s3 request failed, trying again",
                 {{"store", where_.describe()}, {"key", again.back()->key}, {"error", judge(*again.back()).why}});
        // 100 ms, 400 ms, ...: short, because the worker retries a failed group with its own backoff.
        auto wait = options_.first_retry_wait;
        for (int i = 1; i < attempt; ++i) wait *= 4;
        std::this_thread::sleep_for(wait);
        pending = std::move(again);
    }
}

void s3_store::write(std::span<const task_record> records) {
    if (records.empty()) return;
    for (const auto& r : records)
        if (!is_valid_task_id(r.id)) throw record_rejected("s3 store: invalid task id " + shown_id(r.id), r.id);
    // One PUT per id: two of one id in parallel would land in any order.
    const auto rows = newest_per_id(records);
    std::vector<std::string> bodies;
    bodies.reserve(rows.size());
    for (const task_record* r : rows) {
        try {
            bodies.push_back(encode_record(*r));
        } catch (const std::invalid_argument& e) {
            throw record_rejected(std::string("s3 store: cannot encode ") + e.what(), r->id);
        }
    }
    std::lock_guard lock(mutex_);
    const std::vector<bool> wanted = worth_writing(rows);
    std::vector<request> puts(rows.size());
    std::vector<request> markers(rows.size());  // sized once: the batch points into it
    std::vector<request*> batch;
    batch.reserve(2 * rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (!wanted[i]) continue;
        puts[i].method = "PUT";
        puts[i].record_id = rows[i]->id;
        puts[i].key = where_.key(rows[i]->id + ".json");
        puts[i].body = bodies[i];
        batch.push_back(&puts[i]);
        if (rows[i]->status != task_status::cancel_requested) continue;
        // A pending cancel also leaves an empty marker, so workers can list the pending
        // cancels without reading every record; pending_cancels() removes settled ones.
        markers[i].method = "PUT";
        markers[i].record_id = rows[i]->id;
        markers[i].key = where_.key(std::string(cancel_marker_dir) + rows[i]->id);
        markers[i].body = empty_body;
        batch.push_back(&markers[i]);
    }
    if (!batch.empty()) run_with_retries(batch, "PUT");
}

// S3 has no conditional PUT that could compare records, so the rule is kept by reading first,
// but only where it can matter: a failed record (a late failed of an earlier attempt must not
// hide a retry's done). Final records are PUT at once: a GET each would double the requests of
// the normal path, and a final record can only meet a stored final or newer record when two
// workers ran the task at the same time (a redelivery while the first run went on). Between a
// GET and its PUT another writer may store a newer record, which the PUT then replaces.
std::vector<bool> s3_store::worth_writing(std::span<const task_record* const> rows) {
    std::vector<bool> wanted(rows.size(), true);
    std::vector<request> gets;
    std::vector<std::size_t> of;  // the row each GET is for
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (is_final(rows[i]->status)) continue;
        auto& get = gets.emplace_back();
        get.method = "GET";
        get.record_id = rows[i]->id;
        get.key = where_.key(rows[i]->id + ".json");
        get.response.limit = max_record_bytes;
        of.push_back(i);
    }
    if (gets.empty()) return wanted;
    std::vector<request*> batch;
    for (auto& g : gets) batch.push_back(&g);
    run_with_retries(batch, "GET");
    for (std::size_t k = 0; k < gets.size(); ++k) {
        if (gets[k].outcome == verdict_kind::not_found) continue;
        const task_record& incoming = *rows[of[k]];
        task_record stored;
        std::string why;
        if (!decode_record(gets[k].response.text, stored, why) || stored.id != incoming.id) {
            // A foreign object, or one a non-atomic server is still writing: the PUT replaces it.
            PFO3_LOG(warn, "s3 store: replacing an object that holds no record of its id",
                     {{"task_id", incoming.id}, {"key", gets[k].key}, {"error", why.empty() ? "other id" : why}});
        } else if (!may_replace(stored, incoming)) {
            PFO3_LOG(debug, "s3 store: kept the stored record; the one written is not newer",
                     {{"task_id", incoming.id},
                      {"stored", standing(stored)},
                      {"skipped", standing(incoming)}});
            wanted[of[k]] = false;
        }
    }
    return wanted;
}

std::optional<task_record> s3_store::read(std::string_view id) {
    if (!is_valid_task_id(id)) throw service_error("s3 store: invalid task id " + shown_id(id), false);
    // AWS S3 never shows a PUT half done, but some S3-compatible servers (s3rver, plain-file
    // backends) write the object in place: a GET racing the worker's PUT may read an empty or
    // cut document. Read again a few times before calling the record corrupt.
    constexpr int max_reads = 4;
    std::string why;
    for (int attempt = 1;; ++attempt) {
        request get;
        get.method = "GET";
        get.key = where_.key(std::string(id) + ".json");
        get.response.limit = max_record_bytes;
        request* batch[] = {&get};
        {
            std::lock_guard lock(mutex_);
            run_with_retries(batch, "GET");
        }
        if (get.outcome == verdict_kind::not_found) return std::nullopt;

        task_record r;
        if (decode_record(get.response.text, r, why)) {
            if (r.id != id)
                throw service_error("s3 store " + where_.describe() + ": corrupt record " + get.key +
                                        ": it holds id " + shown_id(r.id),
                                    false);
            return r;
        }
        if (attempt == max_reads)
            throw service_error("s3 store " + where_.describe() + ": corrupt record " + get.key + ": " + why, false);
        std::this_thread::sleep_for(std::chrono::milliseconds(20 << attempt));
    }
}

std::vector<std::string> s3_store::cancel_markers(std::size_t limit) {
    const std::string prefix = where_.key(cancel_marker_dir);
    std::vector<std::string> ids;
    std::string token;
    do {
        request list;
        list.method = "GET";
        list.key = "";
        list.query = (token.empty() ? std::string() : "continuation-token=" + s3_uri_encode(token, false) + "&") +
                     "list-type=2&prefix=" + s3_uri_encode(prefix, false);
        list.response.limit = max_list_bytes;
        request* batch[] = {&list};
        {
            std::lock_guard lock(mutex_);
            run_with_retries(batch, "LIST");
        }
        if (list.outcome == verdict_kind::not_found) break;
        const std::string_view xml = list.response.text;
        for (std::size_t at = xml.find("<Key>"); at != std::string_view::npos && ids.size() < limit;
             at = xml.find("<Key>", at)) {
            at += 5;
            const auto end = xml.find("</Key>", at);
            if (end == std::string_view::npos) break;
            const auto key = xml.substr(at, end - at);
            // Ids hold no character XML escapes, so a key with an entity is no marker of ours.
            if (key.starts_with(prefix) && is_valid_task_id(key.substr(prefix.size())))
                ids.emplace_back(key.substr(prefix.size()));
        }
        token = xml_tag(xml, "IsTruncated") == "true" ? xml_tag(xml, "NextContinuationToken") : std::string();
    } while (!token.empty() && ids.size() < limit);
    return ids;
}

std::vector<pending_cancel> s3_store::pending_cancels(std::size_t limit) {
    std::vector<pending_cancel> out;
    std::vector<std::string> settled;
    for (const auto& id : cancel_markers(limit)) {
        auto rec = read(id);
        if (rec && rec->status == task_status::cancel_requested) out.push_back({id, std::move(rec->error)});
        else settled.push_back(id);
    }
    // Markers of settled cancels go; one left behind only costs a read at the next listing.
    std::vector<request> deletes(settled.size());
    std::vector<request*> batch;
    for (std::size_t i = 0; i < settled.size(); ++i) {
        deletes[i].method = "DELETE";
        deletes[i].key = where_.key(std::string(cancel_marker_dir) + settled[i]);
        batch.push_back(&deletes[i]);
    }
    if (!batch.empty()) {
        try {
            std::lock_guard lock(mutex_);
            run_with_retries(batch, "DELETE");
        } catch (const service_error& e) {
            PFO3_LOG(debug, "s3 store: settled cancel markers not removed", {{"error", e.what()}});
        }
    }
    return out;
}

std::string s3_store::describe() const { return where_.describe(); }

std::unique_ptr<result_store> open_s3_store(std::string_view uri, const s3_config_keys& keys) {
    return std::make_unique<s3_store>(s3_location::parse(uri), s3_credentials::resolve(keys));
}

}  // namespace pfo3::store
