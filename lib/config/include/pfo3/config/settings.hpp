#pragma once
// Every setting of every role, with the defaults of SPEC section 3 visible here.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pfo3::config {

/// [amqp.tls]: how an amqps:// broker URL is verified and logged into.
struct amqp_tls_settings {
    std::string ca_file;    ///< CAs the broker's certificate must chain to; empty: the system's
    std::string cert_file;  ///< client certificate (PEM) for mutual TLS / SASL EXTERNAL
    std::string key_file;   ///< its key; empty: cert_file
    bool verify_peer = true;      ///< false only when written; warned about at every connect
    bool verify_hostname = true;  ///< false only when written; warned about at every connect
    std::string sasl = "plain";   ///< plain (user:password of the URL) | external (the certificate)

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const amqp_tls_settings&) const = default;
};

/// [amqp]: the broker and the queue every role uses.
struct amqp_settings {
    std::string url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    /// Its first line is the password of url's user (apply_password_files); empty: none.
    std::string password_file;
    std::string queue = "tareas";
    std::string queue_type = "classic";  ///< "classic" or "quorum"
    int max_priority = 0;  ///< 0: no priorities; 1..10: the task queue's x-max-priority
    // Failover across brokers (decision 0013); broker_urls() in amqp_urls.hpp reads url/urls.
    /// Every broker (the nodes of a cluster); empty: `url` alone. Set in a file as
    /// `urls = [...]` (not together with `url`) or by PFO3_AMQP_URLS (comma-separated).
    std::vector<std::string> urls;
    std::string failover = "round-robin";  ///< "round-robin", "shuffle" or "in-order"
    int connect_timeout_ms = 5000;         ///< TCP/TLS connect to one URL
    int heartbeat_s = 30;                  ///< asked of the broker; 0: none
    // Quorum queues (queue_type = "quorum"); see docs/operations.md, high availability.
    int quorum_group_size = 3;             ///< x-quorum-initial-group-size
    int delivery_limit = 5;                ///< x-delivery-limit; a task that killed limit-1 workers is dead
    std::int64_t max_length = 1000000;     ///< x-max-length of each queue (reject-publish beyond)
    int consumer_timeout_s = 1800;         ///< the broker's consumer_timeout (rabbitmq.conf), for the guard
    amqp_tls_settings tls;               ///< [amqp.tls]

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const amqp_settings&) const = default;
};

/// [serve.tls]: TLS on the client port, detected per connection by its first byte.
struct serve_tls_settings {
    std::string mode = "off";        ///< off | optional (TLS or plaintext) | required
    std::string cert_file;           ///< PEM chain, server certificate first
    std::string key_file;            ///< PEM private key
    std::string min_version = "1.2"; ///< "1.2" or "1.3"
    int handshake_timeout_ms = 10000;  ///< first byte and handshake must be done by then
    std::string client_ca_file;      ///< CAs client certificates must chain to (mutual TLS)
    std::string client_cert = "none";  ///< none | optional | required

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const serve_tls_settings&) const = default;
};

/// [serve]: the TCP front end that accepts tasks.
struct serve_settings {
    std::string listen = "127.0.0.1:5000";  ///< another address needs [auth] (docs/security.md)
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
    serve_tls_settings tls;                ///< [serve.tls]

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

/// [store]: where results go (sqlite://, file://, postgresql://, s3://).
struct store_settings {
    std::string uri = "sqlite:///var/lib/pfo3/results.db";
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

/// [schedule]: delayed tasks (decision 0012).
struct schedule_settings {
    int unit_ms = 1000;                    ///< the delay ladder's step: delays are rounded up to it
    std::int64_t max_delay_s = 2'592'000;  ///< the longest delay a request may ask for (30 days)

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const schedule_settings&) const = default;
};

/// [cancel]: cancelling queued and running tasks (issue 16, decision 0015).
struct cancel_settings {
    int grace_s = 10;                    ///< work: SIGTERM to a cancelled handler's group, SIGKILL this much later
    int max_pending = 100000;            ///< work: pending cancels a worker remembers (oldest forgotten first)
    int remember_ids = 1000000;          ///< serve: accepted task ids it remembers, so their cancel is not not_found

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const cancel_settings&) const = default;
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
    int heartbeat_s = 5;                 ///< work: a heartbeat on exchange pfo3.events this often; 0: none
    /// false: the role records no metrics (the hot paths skip them) and GET /metrics answers 404;
    /// to measure what they cost (test/bench/run.sh --sight), or where nothing scrapes them.
    bool metrics = true;

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const http_settings&) const = default;
};

/// [web]: serve's status page (GET / on the [http] listener).
struct web_settings {
    /// Requeue and Purge buttons for dead letters (POST with the page's CSRF token; the admin
    /// scope off loopback).
    bool actions = false;

    bool operator==(const web_settings&) const = default;
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

/// [auth]: who may use the client port and what for (docs/security.md).
struct auth_settings {
    std::string mode = "none";  ///< none | token | mtls | any
    std::string tokens_file;    ///< lines `NAME SCOPES sha256:HEX`; needed by token and any
    /// mode none on a listen address other than loopback: refused unless this is true.
    bool allow_anonymous_network = false;
    std::vector<std::string> anonymous_from;  ///< CIDRs whose clients need no credentials
    std::vector<std::string> anonymous_scopes{"submit", "status"};  ///< what they may do
    int failure_delay_ms = 1000;  ///< every unauthorized / forbidden answer waits this long
    int max_failures = 3;         ///< failures on one connection before it is closed
    /// [auth.clients]: a client certificate's subject ("CN=svc,O=x", RFC 2253) -> its scopes.
    std::map<std::string, std::vector<std::string>> clients;

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const auth_settings&) const = default;
};

/// The whole configuration after file, environment and defaults were applied.
struct settings {
    amqp_settings amqp;
    serve_settings serve;
    work_settings work;
    store_settings store;
    retry_settings retry;
    schedule_settings schedule;
    cancel_settings cancel;
    send_settings send;
    http_settings http;
    web_settings web;
    std::map<std::string, handler_settings> handlers;
    auth_settings auth;
    std::string source = "built-in defaults";  ///< the file read, for logs

    /// Field-wise equality, so tests and callers can compare whole settings.
    bool operator==(const settings&) const = default;
};

}  // namespace pfo3::config
