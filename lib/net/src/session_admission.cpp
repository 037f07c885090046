// The session's admission of a framed request (SPEC 4.4): the auth gate decides whether it
// goes to the dispatcher, is answered here (`auth`), or is refused after a delay.
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <utility>

#include "op_scope.hpp"
#include "pfo3/core/log.hpp"
#include "pfo3/json/protocol.hpp"
#include "session.hpp"

namespace pfo3::net {

namespace asio = boost::asio;
using boost::system::error_code;

// The gate decides; `auth` is answered here, never by the dispatcher.
void session::admit(json::request req) {
    if (!gate_) {
        if (req.kind == json::op::auth)
            add_ready(json::encode_authenticated("anonymous", auth::scope_set::all().names()));
        else
            dispatch(std::move(req));
        return;
    }
    const bool authenticating = req.kind == json::op::auth;
    const auth::decision d =
        authenticating ? gate_->authenticate(req.token) : gate_->authorize(scope_of(req.kind), req.token);
    if (d.what != auth::verdict::allowed) {
        refuse_later(d, req.id);
        return;
    }
    if (!authenticating) {
        dispatch(std::move(req));
        return;
    }
    const std::string name = d.who ? d.who->name : std::string("anonymous");
    const auth::scope_set scopes = d.who ? d.who->scopes : auth::scope_set{};
    PFO3_LOG(info, "client authenticated", {{"peer", peer_}, {"principal", name}, {"scopes", scopes.to_string()}});
    add_ready(json::encode_authenticated(name, scopes.names()));
}

// A refusal is answered only after auth.failure_delay_ms, so guessing tokens is slow; after
// auth.max_failures the connection reads nothing more and closes once the answers are out.
void session::refuse_later(const auth::decision& d, const std::string& id) {
    const bool unauthorized = d.what == auth::verdict::unauthorized;
    if (limits_.observe.refused)
        limits_.observe.refused(unauthorized ? request_error::unauthorized : request_error::forbidden);
    const auth::principal* who = gate_->current();
    PFO3_LOG(warn, unauthorized ? "request refused: not authenticated" : "request refused: outside the principal's scopes",
             {{"peer", peer_}, {"principal", who ? who->name : std::string("-")}, {"reason", d.message}});
    const std::uint64_t seq = head_seq_ + slots_.size();
    slots_.emplace_back();
    std::string line = json::encode_rejected(unauthorized ? request_error::unauthorized : request_error::forbidden,
                                             d.message, id);
    auto timer = std::make_shared<asio::steady_timer>(strand_, gate_->failure_delay());
    timer->async_wait([self = shared_from_this(), timer, seq, line = std::move(line)](const error_code&) mutable {
        self->on_reply(seq, std::move(line));
    });
    if (gate_->exhausted() && !input_done_) {
        PFO3_LOG(warn, "too many refused requests; closing the connection after answering them", {{"peer", peer_}});
        input_done_ = true;  // process_buffer() stops framing and drops what is left
    }
}

}  // namespace pfo3::net
