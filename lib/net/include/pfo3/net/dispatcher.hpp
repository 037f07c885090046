#pragma once
// What the server does with a decoded request; implemented by the serve role (app/), which
// owns the publisher and the store. Keeps net free of queue and store.
#include <functional>
#include <string>

#include "pfo3/json/protocol.hpp"

namespace pfo3::net {

/// Handles requests. dispatch() is called on the connection's I/O thread and must not block;
/// `reply` takes the complete response line (with '\n') and may be called from any thread,
/// exactly once. Responses are written in request order whatever order replies come in.
/// When the io_context runs on several threads, dispatch() is called concurrently for
/// different connections. A reply for a connection that has gone is dropped; the io_context
/// must still exist when reply is called.
class dispatcher {
public:
    using reply = std::function<void(std::string response_line)>;
    virtual ~dispatcher() = default;
    virtual void dispatch(json::request req, reply done) = 0;
};

}  // namespace pfo3::net
