#pragma once
// Results as objects PREFIX/ID.json in an S3 bucket (AWS or any S3-compatible server), written
// with SigV4-signed libcurl requests. Private to the store module: open_store() makes it.
#include <chrono>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "curl_handles.hpp"
#include "pfo3/store/result_store.hpp"
#include "s3_keys.hpp"
#include "s3_uri.hpp"

namespace pfo3::store {

/// Access keys for SigV4. Never logged, never part of a message.
struct s3_credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  ///< empty: none (sent as x-amz-security-token otherwise)
    bool from_config = false;   ///< the config's keys, not the environment's: errors say which to check

    /// From AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN when the first two
    /// are set, else from the config's keys. Throws config_error (naming the variables and
    /// keys, never their values) if neither gives a key id and a secret.
    static s3_credentials resolve(const s3_config_keys& config);
};

/// Tuning of an s3_store; the defaults are what open_store() uses.
struct s3_store_options {
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds request_timeout{30000};  ///< a whole request, connect included
    int max_parallel = 16;                              ///< PUTs of one write() in flight at once
    int max_attempts = 3;                               ///< tries per request on retryable failures
    std::chrono::milliseconds first_retry_wait{100};    ///< then x4 per further try
};

/// See the file comment. Thread-safe: one mutex serialises write() and read() calls; a write
/// runs up to max_parallel PUTs at once over connections kept open between calls.
class s3_store final : public result_store {
public:
    /// Checks at once that the bucket exists and the credentials may write to it, by PUTting
    /// PREFIX/.pfo3-probe. Throws service_error: not retryable for refused credentials or a
    /// missing bucket (SignatureDoesNotMatch, NoSuchBucket, ...), retryable when the server
    /// cannot be reached.
    s3_store(s3_location where, s3_credentials credentials, s3_store_options options = {});
    ~s3_store() override;
    s3_store(const s3_store&) = delete;
    s3_store& operator=(const s3_store&) = delete;

    /// PUTs every record as PREFIX/ID.json and returns only after each got a 2xx answer. One
    /// PUT per id (newest_per_id); a failed record is first read and skipped where
    /// may_replace() forbids (see worth_writing). Retries 5xx, 429, timeouts and connection
    /// errors up to max_attempts, then throws a retryable service_error; refusals (403, 404
    /// NoSuchBucket, ...) throw at once, not retryable; a record too large for S3 (413, 400
    /// EntityTooLarge or KeyTooLongError) throws record_rejected.
    void write(std::span<const task_record> records) override;
    /// GETs PREFIX/ID.json; nullopt on 404 NoSuchKey.
    std::optional<task_record> read(std::string_view id) override;
    /// By markers: write() puts an empty object PREFIX/cancels/ID beside every cancel_requested
    /// record; this lists them (ListObjectsV2), reads each record, and deletes the markers of
    /// cancels that are settled.
    std::vector<pending_cancel> pending_cancels(std::size_t limit) override;
    /// The store URI (bucket, prefix, endpoint, region); never credentials.
    std::string describe() const override;

private:
    struct request;
    enum class verdict_kind { ok, not_found, retry, fail };
    struct verdict {
        verdict_kind kind;
        std::string why;
        bool record_fault;  ///< the request's record is too large for S3
    };

    /// Ids of the cancel markers, at most `limit`.
    std::vector<std::string> cancel_markers(std::size_t limit);
    /// Per row, whether to PUT it: false where the stored record may not be replaced by it.
    std::vector<bool> worth_writing(std::span<const task_record* const> rows);
    void perform(std::span<request* const> batch);
    void configure(CURL* handle, request& r);
    verdict judge(const request& r) const;
    void run_with_retries(std::span<request* const> batch, const char* what);
    [[noreturn]] void fail(const request& r, const verdict& v, const char* what) const;

    s3_location where_;
    s3_credentials credentials_;
    s3_store_options options_;
    std::string sigv4_;  // "aws:amz:REGION:s3"

    std::mutex mutex_;   // guards everything below: libcurl handles are not thread-safe
    unique_curlm multi_;
    std::vector<unique_curl> handles_;  // created as needed, up to max_parallel, reused
};

}  // namespace pfo3::store
