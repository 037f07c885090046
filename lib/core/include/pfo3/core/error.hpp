#pragma once
// Error vocabulary shared by every module.
//
// Two kinds of failure, kept apart on purpose:
//  - request_error: an expected per-request outcome that goes back to a client on the wire
//    (bad_json, unavailable, ...). One table gives its wire code and human text.
//  - exceptions derived from pfo3::error: broken infrastructure or bad configuration. The
//    message carries the operation, the C library's code and the peer. Exit codes are decided
//    in app/main.cpp only.
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace pfo3 {

/// Outcomes of a client request that are not success; each has a stable wire code.
enum class request_error {
    bad_json = 1,
    bad_request,
    line_too_long,
    unknown_op,
    unauthorized,
    unavailable,
    overloaded,
    too_late,   ///< cancel: the task is already final (done, dead, cancelled)
    not_found,  ///< cancel: no record of the task
    forbidden,     ///< authenticated, but the principal lacks the op's scope
    tls_required,  ///< plaintext on a port that requires TLS
};

/// The wire code of an error ("bad_json", ...), as SPEC section 4.3 names it.
std::string_view wire_code(request_error e) noexcept;
/// A default human text for an error, used when no more specific message exists.
std::string_view default_message(request_error e) noexcept;
/// The std::error_category of request_error, so it can travel as a std::error_code.
const std::error_category& request_category() noexcept;
inline std::error_code make_error_code(request_error e) noexcept {
    return {static_cast<int>(e), request_category()};
}

/// Base of every exception pfo3 throws for broken infrastructure or bad settings.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Bad configuration or command line: the process exits with status 2.
class config_error : public error {
public:
    using error::error;
};

/// A failure talking to a service (broker, store, server). `retryable()` tells whether the
/// same operation may succeed after a reconnect (connection lost, timeout) or never will
/// (access refused, bad credentials, missing bucket).
class service_error : public error {
public:
    service_error(std::string what, bool retryable) : error(std::move(what)), retryable_(retryable) {}
    bool retryable() const noexcept { return retryable_; }

private:
    bool retryable_;
};

/// A store refused one record as such (too large, a value it cannot hold, a constraint): no
/// retry of that record can succeed, though the store itself works. A worker dead-letters the
/// task with this error instead of retrying; every other store failure is retried.
class record_rejected : public service_error {
public:
    record_rejected(std::string what, std::string id) : service_error(std::move(what), false), id_(std::move(id)) {}
    /// The id of the refused record.
    const std::string& id() const noexcept { return id_; }

private:
    std::string id_;
};

}  // namespace pfo3

template <>
struct std::is_error_code_enum<pfo3::request_error> : std::true_type {};
