#pragma once
// Every setting of every role, with the defaults of SPEC section 3 visible here.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pfo3::config {

/// [amqp]: the broker and the queue every role uses.
struct amqp_settings {
    std::string url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    /// Its first line is the password of url's user (apply_password_files); empty: none.
    std::string password_file;
    std::string queue = "tareas";
    std::string queue_type = "classic";  ///< "classic" or "quorum"

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const amqp_settings&) const = default;
};

/// [serve]: the TCP front end that accepts tasks.
struct serve_settings {
    std::string listen = "0.0.0.0:5000";
    std::size_t max_request_bytes = 1048576;
    std::size_t max_connections = 10000;
    int idle_timeout_s = 300;
    int confirm_timeout_ms = 5000;         ///< no broker confirm by then: `unavailable`
    std::size_t max_unconfirmed = 10000;   ///< in flight to the broker, all connections
    std::size_t max_pipelined = 1024;      ///< unanswered requests per connection
    int shutdown_grace_s = 10;             ///< answering in-flight requests at shutdown
    std::size_t max_unsent_reply_bytes = 1048576;  ///< per connection; past it reading pauses
    int write_timeout_s = 30;              ///< replies unread this long: the connection is closed
    int request_timeout_s = 30;            ///< a request must arrive whole this long after its first byte
    std::size_t max_connections_per_address = 256;  ///< open connections from one client address

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const serve_settings&) const = default;
};

/// [work]: the consumer that runs handlers.
struct work_settings {
    int prefetch = 1;
    int concurrency = 1;  ///< handler threads
    int shutdown_grace_s = 30;  ///< finishing tasks in hand at shutdown
    /// A backlog, free slots and no delivery for this long: not ready, consume again. 0: off.
    int consumer_watchdog_s = 60;

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const work_settings&) const = default;
};

/// [store]: where results go (file://, postgresql://, s3://).
struct store_settings {
    std::string uri = "file:///var/lib/pfo3/results";
    /// Its first line is the password of a postgresql:// uri's user (apply_password_files).
    std::string password_file;
    /// S3 credentials when AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set; empty: none.
    std::string s3_access_key_id;
    std::string s3_secret_access_key;  ///< never logged or quoted in errors
    std::string s3_session_token;      ///< never logged or quoted in errors

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const store_settings&) const = default;
};

/// [retry]: how failed tasks are retried before they are dead-lettered.
struct retry_settings {
    int max_attempts = 5;
    int max_attempts_limit = 25;  ///< the most a request's "max_attempts" may ask for
    double backoff_base_s = 1;
    double backoff_factor = 4;
    double backoff_max_s = 600;
    double jitter = 0.2;

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const retry_settings&) const = default;
};

/// [send]: defaults of the `send` and `status` clients.
struct send_settings {
    std::string server = "127.0.0.1:5000";
    std::string type = "echo";

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const send_settings&) const = default;
};

/// [http]: the operations endpoints of serve and work (/livez, /readyz, /metrics).
struct http_settings {
    /// HOST:PORT, or HOST:FIRST-LAST (the first free port of the range: several workers on one
    /// host share one setting); "off" disables it; empty: the role's default, 127.0.0.1:5080
    /// for serve and off for work.
    std::string listen;
    std::size_t type_label_limit = 100;  ///< distinct task types with their own series; the rest `_other`
    int store_check_s = 5;               ///< work: how often /readyz's store check reads the store
    int queue_check_s = 10;              ///< work: how often queue depths are read (passive declare)
    int heartbeat_s = 5;                 ///< work: a heartbeat on exchange pfo3.events this often

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const http_settings&) const = default;
};

/// An external handler: any executable, payload on stdin, result on stdout.
struct handler_settings {
    std::vector<std::string> command;
    double timeout_s = 30;
    /// What the handler's environment holds besides PATH, LANG, HOME, TZ: "NAME" passes the
    /// worker's NAME, "NAME=VALUE" sets it. Never the worker's own PFO3_*, AWS_*, PG* by name.
    std::vector<std::string> env;

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const handler_settings&) const = default;
};

/// The whole configuration after file, environment and defaults were applied.
struct settings {
    amqp_settings amqp;
    serve_settings serve;
    work_settings work;
    store_settings store;
    retry_settings retry;
    send_settings send;
    http_settings http;
    std::map<std::string, handler_settings> handlers;
    std::string source = "built-in defaults";  ///< the file read, for logs

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const settings&) const = default;
};

}  // namespace pfo3::config
