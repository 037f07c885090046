// The S3 store against a small fake S3 on 127.0.0.1 (no signature check: the integration suite
// runs against a server that verifies SigV4). It answers like S3 by default and can be told to
// fail the next requests, so every retry and refusal path runs.
#include <algorithm>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pfo3/core/error.hpp"
#include "record_codec.hpp"
#include "pfo3/store/result_store.hpp"
#include "s3_keys.hpp"

using pfo3::service_error;
using pfo3::task_record;

namespace {

constexpr std::size_t max_request_bytes = 1 << 20;

std::string sha256_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    REQUIRE(EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) == 1);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

struct seen_request {
    std::string method;
    std::string path;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

struct canned_reply {
    int status;
    std::string body;
};

std::string s3_error(std::string_view code) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) +
           "</Code><Message>fake " + std::string(code) + "</Message></Error>";
}

// PUT stores, GET returns what was stored or 404 NoSuchKey; canned replies go first.
class fake_s3 {
public:
    fake_s3() {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(listen_fd_ >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(listen_fd_, 64) == 0);
        socklen_t len = sizeof addr;
        REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        port_ = ntohs(addr.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~fake_s3() {
        stopping_ = true;
        ::shutdown(listen_fd_, SHUT_RDWR);
        acceptor_.join();
        {
            std::lock_guard lock(mutex_);
            for (int fd : connection_fds_) ::shutdown(fd, SHUT_RDWR);
        }
        for (auto& t : connections_) t.join();
        ::close(listen_fd_);
    }

    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void fail_next(int status, std::string body = {}) {
        std::lock_guard lock(mutex_);
        canned_.push_back({status, std::move(body)});
    }
    std::vector<seen_request> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    std::string object(const std::string& path) {
        std::lock_guard lock(mutex_);
        auto it = objects_.find(path);
        return it == objects_.end() ? std::string() : it->second;
    }
    void put_object(const std::string& path, std::string body) {
        std::lock_guard lock(mutex_);
        objects_[path] = std::move(body);
    }
    int connections_accepted() const { return accepted_.load(); }

private:
    void accept_loop() {
        while (!stopping_) {
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) return;
            ++accepted_;
            std::lock_guard lock(mutex_);
            connection_fds_.push_back(fd);
            connections_.emplace_back([this, fd] { serve(fd); });
        }
    }

    void serve(int fd) {
        std::string in;
        char buf[16384];
        while (true) {
            auto end = in.find("\r\n\r\n");
            if (end == std::string::npos) {
                if (in.size() > max_request_bytes) break;
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0) break;
                in.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            seen_request r = parse_head(in.substr(0, end));
            std::size_t length = std::stoul(r.headers.count("content-length") ? r.headers["content-length"] : "0");
            if (length > max_request_bytes) break;
            while (in.size() < end + 4 + length) {
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0) return;
                in.append(buf, static_cast<std::size_t>(n));
            }
            r.body = in.substr(end + 4, length);
            in.erase(0, end + 4 + length);
            canned_reply reply = answer(r);
            std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nContent-Type: application/xml\r\n" +
                              "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
            if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) break;
        }
    }

    static seen_request parse_head(const std::string& head) {
        seen_request r;
        auto line_end = head.find("\r\n");
        auto first = head.substr(0, line_end);
        auto sp1 = first.find(' ');
        auto sp2 = first.find(' ', sp1 + 1);
        r.method = first.substr(0, sp1);
        r.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
        std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
        while (pos < head.size()) {
            auto e = head.find("\r\n", pos);
            if (e == std::string::npos) e = head.size();
            auto line = head.substr(pos, e - pos);
            auto colon = line.find(':');
            if (colon != std::string::npos) {
                std::string name = line.substr(0, colon);
                for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                auto value = line.substr(colon + 1);
                value.erase(0, value.find_first_not_of(' '));
                r.headers[name] = value;
            }
            pos = e + 2;
        }
        return r;
    }

    canned_reply answer(const seen_request& r) {
        std::lock_guard lock(mutex_);
        requests_.push_back(r);
        if (!canned_.empty()) {
            auto reply = canned_.front();
            canned_.pop_front();
            return reply;
        }
        if (r.method == "PUT") {
            objects_[r.path] = r.body;
            return {200, {}};
        }
        auto it = objects_.find(r.path);
        if (it == objects_.end()) return {404, s3_error("NoSuchKey")};
        return {200, it->second};
    }

    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> accepted_{0};
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<std::thread> connections_;
    std::vector<int> connection_fds_;
    std::deque<canned_reply> canned_;
    std::vector<seen_request> requests_;
    std::map<std::string, std::string> objects_;
};

// Credentials for the whole test process; the fake does not check them.
struct test_credentials {
    test_credentials() {
        ::setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE", 1);
        ::setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-never-shown", 1);
        ::unsetenv("AWS_SESSION_TOKEN");
    }
};

std::unique_ptr<pfo3::store::result_store> open_fake(fake_s3& s3) {
    static test_credentials creds;
    return pfo3::store::open_store("s3://bkt/res/2024?endpoint=" + s3.endpoint() + "&region=eu-west-1");
}

task_record record(std::string id, std::string result = "42", pfo3::task_status status = pfo3::task_status::done,
                   int attempts = 1) {
    task_record r;
    r.id = std::move(id);
    r.type = "echo";
    r.payload_json = result;
    r.result_json = result;
    r.status = status;
    r.attempts = attempts;
    r.worker = "host:1";
    r.submitted_at = "2024-01-01T00:00:00.000Z";
    r.started_at = "2024-01-01T00:00:00.001Z";
    r.finished_at = "2024-01-01T00:00:00.002Z";
    return r;
}

}  // namespace

TEST_CASE("opening probes the bucket with a PUT under the prefix", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    auto seen = s3.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "PUT");
    CHECK(seen[0].path == "/bkt/res/2024/.pfo3-probe");
    CHECK(store->describe() == "s3://bkt/res/2024?endpoint=" + s3.endpoint() + "&region=eu-west-1");
}

TEST_CASE("a write PUTs each record as PREFIX/ID.json, signed, with its payload hash", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    auto r = record("job:1");
    store->write({&r, 1});
    auto seen = s3.requests();
    REQUIRE(seen.size() == 2);
    const auto& put = seen[1];
    CHECK(put.method == "PUT");
    CHECK(put.path == "/bkt/res/2024/job%3A1.json");
    CHECK(put.body == pfo3::store::encode_record(r));
    CHECK(put.headers.at("x-amz-content-sha256") == sha256_hex(put.body));
    CHECK(put.headers.at("content-type") == "application/json");
    CHECK_THAT(put.headers.at("authorization"),
               Catch::StartsWith("AWS4-HMAC-SHA256 Credential=AKIDFAKE/") && Catch::Contains("/eu-west-1/s3/aws4_request") &&
                   Catch::Contains("x-amz-content-sha256"));
    CHECK(put.headers.count("x-amz-date") == 1);
}

TEST_CASE("a read returns the stored record, and nullopt for a missing key", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    auto r = record("t-2", R"({"a":[1,2]})");
    store->write({&r, 1});
    auto back = store->read("t-2");
    REQUIRE(back);
    CHECK(back->id == "t-2");
    CHECK(back->result_json == R"({"a":[1,2]})");
    CHECK_FALSE(store->read("never-written"));
}

TEST_CASE("a read racing a non-atomic server's PUT reads again, a lasting bad body is corrupt", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    auto r = record("t-3");
    store->write({&r, 1});
    s3.fail_next(200, "");             // what s3rver serves while it writes the file
    s3.fail_next(200, R"({"id":"t-)");  // and a cut document
    auto back = store->read("t-3");
    REQUIRE(back);
    CHECK(back->id == "t-3");
    for (int i = 0; i < 4; ++i) s3.fail_next(200, "not json");
    CHECK_THROWS_WITH(store->read("t-3"), Catch::Contains("corrupt record"));
}

TEST_CASE("a group of records is written in parallel over a few reused connections", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    std::vector<task_record> group;
    for (int i = 0; i < 100; ++i) group.push_back(record("id-" + std::to_string(i), std::to_string(i)));
    store->write(group);
    store->write(group);  // an upsert: same keys again
    for (int i = 0; i < 100; ++i)
        CHECK(s3.object("/bkt/res/2024/id-" + std::to_string(i) + ".json") == pfo3::store::encode_record(group[static_cast<std::size_t>(i)]));
    CHECK(s3.requests().size() == 201);
    // 16 in parallel at most, and connections are kept between writes.
    CHECK(s3.connections_accepted() <= 17);
}

TEST_CASE("5xx and 429 answers are retried inside write", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    s3.fail_next(503, s3_error("SlowDown"));
    s3.fail_next(500, s3_error("InternalError"));
    auto r = record("retried");
    store->write({&r, 1});
    CHECK(s3.object("/bkt/res/2024/retried.json") == pfo3::store::encode_record(r));
    CHECK(s3.requests().size() == 4);

    s3.fail_next(429);
    CHECK(store->read("retried"));
}

TEST_CASE("a store that keeps failing makes write throw a retryable error after three tries", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    for (int i = 0; i < 3; ++i) s3.fail_next(503, s3_error("ServiceUnavailable"));
    auto r = record("down");
    try {
        store->write({&r, 1});
        FAIL("write succeeded");
    } catch (const service_error& e) {
        CHECK(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("ServiceUnavailable") && Catch::Contains("3 times") &&
                                 Catch::Contains("res/2024/down.json"));
    }
    // The store is back: the next write goes through.
    store->write({&r, 1});
    CHECK(s3.object("/bkt/res/2024/down.json") == pfo3::store::encode_record(r));
}

TEST_CASE("a refused write is not retried and names the S3 error code", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    s3.fail_next(403, s3_error("AccessDenied"));
    auto r = record("denied");
    try {
        store->write({&r, 1});
        FAIL("write succeeded");
    } catch (const service_error& e) {
        CHECK_FALSE(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("HTTP 403 AccessDenied"));
    }
    CHECK(s3.requests().size() == 2);
}

TEST_CASE("a missing bucket on read is an error, not a pending task", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    s3.fail_next(404, s3_error("NoSuchBucket"));
    try {
        store->read("x");
        FAIL("read succeeded");
    } catch (const service_error& e) {
        CHECK_FALSE(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("NoSuchBucket"));
    }
}

TEST_CASE("a corrupt or foreign object is reported, not decoded", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    s3.put_object("/bkt/res/2024/bad.json", "not json");
    CHECK_THROWS_AS(store->read("bad"), service_error);
    auto other = record("other");
    s3.put_object("/bkt/res/2024/mislabelled.json", pfo3::store::encode_record(other));
    CHECK_THROWS_WITH(store->read("mislabelled"), Catch::Contains("it holds id 'other'"));
}

TEST_CASE("refused credentials at open fail at once, naming the cause but never the secret", "[s3_store]") {
    fake_s3 s3;
    s3.fail_next(403, s3_error("SignatureDoesNotMatch"));
    try {
        open_fake(s3);
        FAIL("open succeeded");
    } catch (const service_error& e) {
        CHECK_FALSE(e.retryable());
        std::string what = e.what();
        CHECK_THAT(what, Catch::Contains("SignatureDoesNotMatch") && Catch::Contains("AWS_SECRET_ACCESS_KEY") &&
                             Catch::Contains("s3://bkt/res/2024"));
        CHECK(what.find("fake-secret-never-shown") == std::string::npos);
    }
}

TEST_CASE("an unreachable server at open is a retryable error", "[s3_store]") {
    int port = 0;
    {
        fake_s3 gone;  // bound, then closed: nothing listens on this port afterwards
        port = std::stoi(gone.endpoint().substr(gone.endpoint().rfind(':') + 1));
        open_fake(gone);
    }
    try {
        pfo3::store::open_store("s3://bkt/p?endpoint=http://127.0.0.1:" + std::to_string(port));
        FAIL("open succeeded");
    } catch (const service_error& e) {
        CHECK(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("curl error 7"));
    }
}

TEST_CASE("missing credentials are a configuration error naming the variables", "[s3_store]") {
    fake_s3 s3;
    open_fake(s3);  // sets them for the process
    std::string saved = std::getenv("AWS_SECRET_ACCESS_KEY");
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK_THROWS_AS(pfo3::store::open_store("s3://bkt/p?endpoint=" + s3.endpoint()), pfo3::config_error);
    CHECK_THROWS_WITH(pfo3::store::open_store("s3://bkt/p?endpoint=" + s3.endpoint()),
                      Catch::Contains("AWS_SECRET_ACCESS_KEY"));
    ::setenv("AWS_SECRET_ACCESS_KEY", saved.c_str(), 1);
}

TEST_CASE("credentials come from the config when the environment has none, the environment wins otherwise",
          "[s3_store]") {
    fake_s3 s3;
    open_fake(s3);  // sets the environment's pair for the process
    const std::string uri = "s3://bkt/p?endpoint=" + s3.endpoint();
    const pfo3::store::s3_config_keys from_file{"AKIDFILE", "file-secret", ""};
    auto key_id_used = [&](const pfo3::store::s3_config_keys& keys) {
        auto before = s3.requests().size();
        auto store = pfo3::store::open_s3_store(uri, keys);  // its probe PUT is signed
        auto seen = s3.requests();
        REQUIRE(seen.size() > before);
        const auto& auth = seen.back().headers.at("authorization");
        auto from = auth.find("Credential=") + 11;
        return auth.substr(from, auth.find('/', from) - from);
    };
    CHECK(key_id_used(from_file) == "AKIDFAKE");

    std::string saved_id = std::getenv("AWS_ACCESS_KEY_ID"), saved_secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    ::unsetenv("AWS_ACCESS_KEY_ID");
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK(key_id_used(from_file) == "AKIDFILE");
    CHECK_THROWS_WITH(pfo3::store::open_s3_store(uri, {"AKIDFILE", "", ""}),
                      Catch::Contains("store.s3_secret_access_key") && !Catch::Contains("AKIDFILE"));
    ::setenv("AWS_ACCESS_KEY_ID", saved_id.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", saved_secret.c_str(), 1);
}

TEST_CASE("a refused secret from the config names the config key to check, not the variable", "[s3_store]") {
    fake_s3 s3;
    open_fake(s3);  // sets the environment's pair for the process
    std::string saved_id = std::getenv("AWS_ACCESS_KEY_ID"), saved_secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    ::unsetenv("AWS_ACCESS_KEY_ID");
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    const std::string uri = "s3://bkt/p?endpoint=" + s3.endpoint();
    s3.fail_next(403, s3_error("SignatureDoesNotMatch"));
    CHECK_THROWS_WITH(pfo3::store::open_s3_store(uri, {"AKIDFILE", "file-secret-never-shown", ""}),
                      Catch::Contains("check store.s3_secret_access_key") &&
                          !Catch::Contains("AWS_SECRET_ACCESS_KEY") && !Catch::Contains("file-secret-never-shown"));
    s3.fail_next(403, s3_error("InvalidAccessKeyId"));
    CHECK_THROWS_WITH(pfo3::store::open_s3_store(uri, {"AKIDFILE", "file-secret-never-shown", ""}),
                      Catch::Contains("check store.s3_access_key_id"));
    ::setenv("AWS_ACCESS_KEY_ID", saved_id.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", saved_secret.c_str(), 1);
}

TEST_CASE("final records are PUT without a read, a failed one is read first and skipped if older", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    using st = pfo3::task_status;
    // The normal path: a group of final records costs one PUT each, nothing more.
    std::vector<task_record> group{record("a", "1"), record("b", "null", st::dead, 5)};
    store->write(group);
    // The requests since the first `from`, each "METHOD NAME; " (a group's PUTs run in parallel,
    // so their order is not fixed: `sorted` puts them in name order).
    auto methods = [&](std::size_t from, bool sorted = false) {
        std::vector<std::string> seen;
        const auto all = s3.requests();
        for (std::size_t i = from; i < all.size(); ++i)
            seen.push_back(all[i].method + " " + all[i].path.substr(all[i].path.rfind('/') + 1) + "; ");
        if (sorted) std::sort(seen.begin(), seen.end());
        std::string out;
        for (const auto& m : seen) out += m;
        return out;
    };
    CHECK(methods(0, true) == "PUT .pfo3-probe; PUT a.json; PUT b.json; ");
    const std::size_t after_group = s3.requests().size();
    // A failed record over a final one: one GET, no PUT.
    auto late = record("a", "null", st::failed, 2);
    store->write({&late, 1});
    CHECK(methods(after_group) == "GET a.json; ");
    // A failed record with nothing stored yet, and one of a later attempt: GET (404) or GET, then PUT.
    auto first = record("c", "null", st::failed, 1);
    store->write({&first, 1});
    auto second = record("c", "null", st::failed, 2);
    store->write({&second, 1});
    CHECK(methods(after_group) == "GET a.json; GET c.json; PUT c.json; GET c.json; PUT c.json; ");
    CHECK(s3.object("/bkt/res/2024/a.json") == pfo3::store::encode_record(group[0]));
    CHECK(s3.object("/bkt/res/2024/c.json") == pfo3::store::encode_record(second));
}

TEST_CASE("a group holding one id twice PUTs it once, the newest record", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    std::vector<task_record> group{record("r", "2", pfo3::task_status::done, 2),
                                   record("r", "null", pfo3::task_status::failed, 1)};
    store->write(group);
    auto seen = s3.requests();
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].method == "PUT");
    CHECK(s3.object("/bkt/res/2024/r.json") == pfo3::store::encode_record(group[0]));
}

TEST_CASE("a record S3 refuses as too large, or that cannot be encoded, is rejected as such", "[s3_store]") {
    fake_s3 s3;
    auto store = open_fake(s3);
    auto big = record("big");
    const std::pair<int, const char*> refusals[] = {{400, "EntityTooLarge"}, {400, "KeyTooLongError"}, {413, ""}};
    for (auto [status, code] : refusals) {
        INFO(status << " " << code);
        s3.fail_next(status, *code ? s3_error(code) : std::string());
        try {
            store->write({&big, 1});
            FAIL("write succeeded");
        } catch (const pfo3::record_rejected& e) {
            CHECK(e.id() == "big");
            CHECK_THAT(e.what(), Catch::Contains("HTTP " + std::to_string(status)));
        }
    }
    auto bad = record("bad", "{not json");
    CHECK_THROWS_AS(store->write({&bad, 1}), pfo3::record_rejected);
    auto bad_id = record("a b");
    CHECK_THROWS_AS(store->write({&bad_id, 1}), pfo3::record_rejected);
    // Any other refusal is the store's, not the record's.
    s3.fail_next(400, s3_error("InvalidArgument"));
    try {
        store->write({&big, 1});
        FAIL("write succeeded");
    } catch (const pfo3::record_rejected&) {
        FAIL("a refusal that is not about the record was record_rejected");
    } catch (const service_error& e) {
        CHECK_FALSE(e.retryable());
    }
}
