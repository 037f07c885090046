#include "pg_connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>

#include "pfo3/core/log.hpp"
#include "pg_uri.hpp"

namespace pfo3::store {

namespace {

struct conninfo_deleter {
    void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};
using conninfo_ptr = std::unique_ptr<PQconninfoOption, conninfo_deleter>;

constexpr int default_connect_timeout_s = 10;

// The password as written in the URI (user:PASSWORD@ or password=PASSWORD), so messages that
// quote parts of the URI (libpq's parse errors do) can be scrubbed.
std::string uri_password(std::string_view uri) {
    std::string out;
    auto scheme = uri.find("://");
    if (scheme != std::string_view::npos) {
        auto auth_begin = scheme + 3;
        auto auth_end = uri.find_first_of("/?#", auth_begin);
        if (auth_end == std::string_view::npos) auth_end = uri.size();
        auto at = uri.rfind('@', auth_end);
        if (at != std::string_view::npos && at >= auth_begin) {
            auto colon = uri.find(':', auth_begin);
            if (colon != std::string_view::npos && colon < at) out = uri.substr(colon + 1, at - colon - 1);
        }
    }
    auto p = uri.find("password=");
    if (out.empty() && p != std::string_view::npos) {
        auto end = uri.find('&', p);
        out = uri.substr(p + 9, end == std::string_view::npos ? std::string_view::npos : end - p - 9);
    }
    return out;
}

// libpq messages span lines ("…\nDETAIL: …\n"); a log field and an error read better on one.
std::string one_line(std::string_view msg) {
    std::string out;
    for (char ch : msg) {
        if (ch == '\n' || ch == '\r') {
            if (!out.empty() && !out.ends_with("; ")) out += "; ";
        } else if (ch == '\t') {
            if (!out.ends_with(' ')) out += ' ';
        } else {
            out += ch;
        }
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
    return out;
}

// A connection message written verbosely, reduced to the default wording.
std::string plain_connect_message(std::string_view msg, std::string_view sqlstate) {
    std::string out;
    std::size_t at = 0;
    while (at < msg.size()) {
        auto end = msg.find('\n', at);
        if (end == std::string_view::npos) end = msg.size();
        auto line = msg.substr(at, end - at);
        if (!line.starts_with("LOCATION:")) {
            out.append(line);
            out += '\n';
        }
        at = end + 1;
    }
    if (!sqlstate.empty()) {
        std::string token = std::string(sqlstate) + ": ";
        auto p = out.find(token);
        if (p != std::string::npos) out.erase(p, token.size());
    }
    return out;
}

// Short enough passwords would scrub ordinary words; those are never echoed by libpq anyway
// (only whole URI tokens are).
void scrub(std::string& msg, const std::string& password) {
    if (password.size() < 4) return;
    for (auto p = msg.find(password); p != std::string::npos; p = msg.find(password, p))
        msg.replace(p, password.size(), "***");
}

enum class socket_wait { ready, not_yet, deadline_passed, failed };

// One wait of libpq's socket for `events`, bounded by `deadline` (connecting and every
// statement share it). not_yet: interrupted by a signal, wait again; failed: errno says why.
socket_wait wait_for_socket(int fd, short events, std::chrono::steady_clock::time_point deadline, short& revents) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return socket_wait::deadline_passed;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    revents = p.revents;
    if (n > 0) return socket_wait::ready;
    if (n < 0 && errno != EINTR) return socket_wait::failed;
    return socket_wait::not_yet;
}

// Sends one statement and waits for its result until `timeout`: libpq's PQexec would wait
// forever for a server that hangs (stopped, or a network that drops packets without a reset),
// holding a worker's committer or a status thread. nullopt when the time ran out (the
// statement is then still in flight on `c`); a null result for a libpq error.
std::optional<pg_result_ptr> exec_until(PGconn* c, const char* sql, int n_params, const char* const* values,
                                     std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!PQsendQueryParams(c, sql, n_params, nullptr, values, nullptr, nullptr, 0)) return pg_result_ptr();
    for (;;) {
        const int unsent = PQflush(c);  // the connection is non-blocking: may leave data unsent
        if (unsent < 0) return pg_result_ptr();
        if (unsent == 0 && !PQisBusy(c)) break;
        short revents = 0;
        const auto waited = wait_for_socket(PQsocket(c), POLLIN | (unsent ? POLLOUT : 0), deadline, revents);
        if (waited == socket_wait::deadline_passed) return std::nullopt;
        if (waited == socket_wait::failed) return pg_result_ptr();
        if (waited == socket_wait::ready && (revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(c))
            return pg_result_ptr();
    }
    // One statement gives one result, then null; an error result is the one to report.
    pg_result_ptr first;
    while (PGresult* r = PQgetResult(c)) {
        pg_result_ptr next(r);
        if (!first || PQresultStatus(next.get()) == PGRES_FATAL_ERROR) first = std::move(next);
    }
    return first;
}

// The one translator of libpq failures into service_error: operation, masked URI, the
// server's message and SQLSTATE, and whether trying again may help. `record_id` is set for a
// statement that writes records (empty when it holds several): a refusal of their values is
// then record_rejected.
[[noreturn]] void fail(const std::string& masked, const std::string& password, std::string_view op,
                       PGconn* c, const PGresult* r, const std::string* record_id) {
    std::string sqlstate;
    std::string msg;
    if (r) {
        if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) sqlstate = s;
        msg = PQresultErrorMessage(r);
    }
    if (msg.empty() && c) msg = PQerrorMessage(c);
    if (msg.empty()) msg = "unknown libpq error";
    msg = one_line(msg);
    scrub(msg, password);
    bool ok = c && PQstatus(c) == CONNECTION_OK;
    std::string what = "postgresql store " + masked + ": " + std::string(op) + ": " + msg +
                       (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")");
    if (record_id && postgres_record_fault(sqlstate)) throw record_rejected(std::move(what), *record_id);
    throw service_error(std::move(what), postgres_retryable(sqlstate, ok));
}

}  // namespace

bool postgres_record_fault(std::string_view sqlstate) noexcept {
    return sqlstate.size() == 5 && (sqlstate.starts_with("22") || sqlstate.starts_with("23") || sqlstate.starts_with("54"));
}

bool postgres_retryable(std::string_view sqlstate, bool connection_ok) noexcept {
    if (sqlstate.empty()) return true;  // no answer from the server: lost or never reached
    if (sqlstate.starts_with("08")) return true;   // connection exception
    if (sqlstate.starts_with("57P")) return true;  // admin/crash shutdown, cannot connect now
    if (sqlstate.starts_with("53")) return true;   // insufficient resources (too many conns, disk)
    if (sqlstate.starts_with("58")) return true;   // I/O error on the server
    if (sqlstate == "40001" || sqlstate == "40P01") return true;  // serialization, deadlock
    if (sqlstate == "57014" || sqlstate == "55P03") return true;  // cancelled, lock timeout
    (void)connection_ok;  // a code from the server decides even when it closed the connection
    return false;
}

bool postgres_tls_refusal(std::string_view message) noexcept {
    // libpq's own wording (fe-secure-openssl.c, fe-connect.c of PostgreSQL 15), which is not
    // translated when lc_messages is C, as it is for a service.
    static constexpr std::string_view refusals[] = {
        "certificate verify failed",      // untrusted CA, expired, revoked: OpenSSL's verdict
        "does not match host name",       // server certificate for "a" does not match host name "b"
        "root certificate file",          // sslrootcert missing or unreadable
        "server does not support SSL",    // sslmode=require against a server without ssl
        "certificate file",               // sslcert missing or unreadable
        "private key file",               // sslkey missing, unreadable or too open
        "certificate present, but not private key",
        "name entry is missing",          // a certificate without the names verify-full needs
        "address entry is missing",
    };
    for (auto r : refusals)
        if (message.find(r) != std::string_view::npos) return true;
    return false;
}

std::string_view sqlstate_in_message(std::string_view message) noexcept {
    // Verbose messages read "SEVERITY:  XXXXX: text"; the severity may be translated.
    for (auto p = message.find(":  "); p != std::string_view::npos; p = message.find(":  ", p + 1)) {
        auto code = message.substr(p + 3, 6);
        if (code.size() < 6 || code[5] != ':') continue;
        code.remove_suffix(1);
        if (std::all_of(code.begin(), code.end(), [](char ch) {
                return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z');
            }))
            return code;
    }
    return {};
}

void pg_result_deleter::operator()(PGresult* r) const noexcept { PQclear(r); }

void pg_connection::conn_deleter::operator()(PGconn* c) const noexcept { PQfinish(c); }

pg_connection::pg_connection(std::string uri, std::chrono::milliseconds answer_timeout)
    : uri_(std::move(uri)),
      masked_(mask_postgres_uri(uri_)),
      password_(uri_password(uri_)),
      answer_timeout_(std::max(answer_timeout, std::chrono::milliseconds(1))) {
    // A malformed URI is a configuration mistake, not an outage.
    char* err = nullptr;
    conninfo_ptr parsed(PQconninfoParse(uri_.c_str(), &err));
    if (!parsed) {
        std::string why = err ? one_line(err) : "out of memory";
        PQfreemem(err);
        scrub(why, password_);
        throw config_error("store URI '" + masked_ + "' is not a valid PostgreSQL URI: " + why);
    }
}

pg_connection::~pg_connection() = default;

bool pg_connection::is_open() const noexcept { return pg_ && PQstatus(pg_.get()) == CONNECTION_OK; }

void pg_connection::ensure_connected() {
    if (is_open() && PQtransactionStatus(pg_.get()) == PQTRANS_IDLE) return;
    pg_.reset();

    // Defaults the URI may override: dbname comes last, so its expanded values win.
    const char* keys[] = {"fallback_application_name", "client_encoding", "connect_timeout",
                          "keepalives_idle", "keepalives_interval", "keepalives_count",
                          "tcp_user_timeout", "dbname", nullptr};
    const std::string timeout_default = std::to_string(default_connect_timeout_s);
    const char* values[] = {"pfo3", "UTF8", timeout_default.c_str(), "30", "10", "3", "60000",
                            uri_.c_str(), nullptr};
    std::unique_ptr<PGconn, conn_deleter> c(PQconnectStartParams(keys, values, 1));
    if (!c) throw service_error("postgresql store " + masked_ + ": connect: out of memory", true);
    // Verbose messages carry the SQLSTATE of a refused connection (28P01, 3D000, 57P03...),
    // which libpq offers no other way to read.
    PQsetErrorVerbosity(c.get(), PQERRORS_VERBOSE);

    int timeout_s = default_connect_timeout_s;
    if (conninfo_ptr info{PQconninfo(c.get())})
        for (auto* o = info.get(); o->keyword; ++o)
            if (std::strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val)
                timeout_s = std::max(1, std::atoi(o->val));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);

    auto connect_failed = [&]() {
        std::string raw = PQerrorMessage(c.get());
        std::string sqlstate(sqlstate_in_message(raw));
        std::string msg = one_line(plain_connect_message(raw, sqlstate));
        scrub(msg, password_);
        const bool tls = sqlstate.empty() && postgres_tls_refusal(msg);
        // The server asked for a password none was given for: libpq fails before any SQLSTATE.
        bool retryable = postgres_retryable(sqlstate, false) && !PQconnectionNeedsPassword(c.get()) && !tls;
        throw service_error("postgresql store " + masked_ + ": connect: " + msg +
                                (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")") +
                                (tls ? " (TLS to PostgreSQL refused: check sslmode, sslrootcert, sslcert and sslkey "
                                       "in store.uri)"
                                     : ""),
                            retryable);
    };

    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    if (PQstatus(c.get()) == CONNECTION_BAD) connect_failed();
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) connect_failed();
        short revents = 0;
        switch (wait_for_socket(PQsocket(c.get()), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, revents)) {
        case socket_wait::deadline_passed:
            throw service_error("postgresql store " + masked_ + ": connect: no connection within " +
                                    std::to_string(timeout_s) + " s",
                                true);
        case socket_wait::failed:
            throw service_error("postgresql store " + masked_ + ": connect: poll: " +
                                    std::system_category().message(errno),
                                true);
        case socket_wait::ready: st = PQconnectPoll(c.get()); break;
        case socket_wait::not_yet: break;
        }
    }
    PQsetErrorVerbosity(c.get(), PQERRORS_DEFAULT);
    PFO3_LOG(debug, "connected to the result store", {{"store", masked_}});
    // Statements are sent and awaited with a deadline (exec_until), which needs sends that
    // never block on a full socket buffer.
    if (PQsetnonblocking(c.get(), 1) != 0)
        throw service_error("postgresql store " + masked_ + ": connect: cannot make the connection non-blocking", true);
    pg_ = std::move(c);
}

pg_result_ptr pg_connection::run(std::string_view op, const char* sql, int n_params, const char* const* values,
                                 const std::string* record_id) {
    PGconn* c = pg_.get();
    auto answered = exec_until(c, sql, n_params, values, answer_timeout_);
    if (!answered)
        throw service_error("postgresql store " + masked_ + ": " + std::string(op) + ": no answer within " +
                                std::to_string(answer_timeout_.count()) + " ms; the connection is dropped",
                            true);
    pg_result_ptr r = std::move(*answered);
    auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(masked_, password_, op, c, r.get(), record_id);
    return r;
}

bool pg_connection::recover(bool may_retry) {
    PGconn* pg = pg_.get();
    if (!pg) return false;
    // A statement still in flight went unanswered: the server hangs, and neither a ROLLBACK nor
    // an immediate retry would be answered sooner.
    const bool hung = PQtransactionStatus(pg) == PQTRANS_ACTIVE;
    bool lost = hung || PQstatus(pg) != CONNECTION_OK;
    if (!lost && PQtransactionStatus(pg) != PQTRANS_IDLE) {
        auto r = exec_until(pg, "ROLLBACK", 0, nullptr, answer_timeout_);
        lost = !r || !*r || PQresultStatus(r->get()) != PGRES_COMMAND_OK;
    }
    if (lost) pg_.reset();
    // A connection that went stale while idle gets one immediate retry on a fresh one.
    return lost && may_retry && !hung;
}

}  // namespace pfo3::store
