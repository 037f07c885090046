#pragma once
// One client connection of the server (SPEC 4.1): frames and decodes requests, hands them to
// the dispatcher, writes responses in request order. Lives on its own strand; every member
// below is touched only there. Kept alive by its pending handlers and reply callbacks.
// What one client can hold is bounded: replies not yet taken by the peer (in bytes; past the
// budget the connection is not read from), requests in flight, the time a request may take to
// arrive and the time the peer may leave written replies untaken.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pfo3/auth/policy.hpp"
#include "pfo3/json/framer.hpp"
#include "pfo3/json/protocol.hpp"
#include "pfo3/net/dispatcher.hpp"
#include "pfo3/net/server.hpp"

namespace pfo3::net {

/// A connection's byte stream: a plain socket or TLS over one. The context is kept because a
/// reload gives the server a new one while this connection still uses the old.
struct connection_stream {
    std::unique_ptr<boost::asio::ip::tcp::socket> plain;
    std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls;
    std::shared_ptr<boost::asio::ssl::context> context;
    std::string peer_subject;  ///< the verified client certificate's subject; empty: none

    /// The TCP socket under either.
    boost::asio::ip::tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }
};

/// The limits a session enforces (from server_options).
struct session_limits {
    std::size_t max_request_bytes = 1048576;
    std::size_t max_pipelined = 1024;
    std::size_t max_unsent_reply_bytes = 1048576;
    std::size_t max_status_in_flight = 16;
    std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(300);
    std::chrono::steady_clock::duration request_timeout = std::chrono::seconds(30);
    std::chrono::steady_clock::duration write_timeout = std::chrono::seconds(30);
    json::request_limits request;
    std::shared_ptr<const auth::policy> auth;  ///< null: everything allowed
    observers observe;                          ///< see server_options
};

/// See the file comment. Thread-safe only through its public members, which post to the strand.
class session : public std::enable_shared_from_this<session> {
public:
    /// Takes a connected socket whose executor is this session's strand. `on_closed` runs once,
    /// on the strand, when the socket has been closed.
    session(connection_stream stream, dispatcher& d, session_limits limits, std::function<void(session*)> on_closed);
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Starts reading; call once.
    void start();
    /// Stops reading new requests; the session closes once its pending responses are written.
    void stop_input();
    /// Closes the connection now; replies that arrive later are dropped.
    void close();

    /// Bytes read from the socket at most per read call (the buffer never holds more than
    /// max_request_bytes plus this).
    static constexpr std::size_t read_chunk = 65536;

private:
    // A request's place in the response order; `ready` once its response line is known.
    struct slot {
        std::string line;
        bool ready = false;
        bool status = false;  // a status read: its reply may be as large as a stored result
        std::chrono::steady_clock::time_point submit_read{};  // a submit: when it was read
    };
    // Why on_timer() acts.
    enum class expiry { none, idle, request, write };

    std::size_t read_some(char* data, std::size_t size, boost::system::error_code& ec);
    void do_read();
    void on_readable(const boost::system::error_code& ec);
    void process_buffer();
    void note_partial_request(bool need_more);
    void add_ready(std::string line);
    void refuse_now(request_error code, std::string line);
    void admit(json::request req);
    void refuse_later(const auth::decision& d, const std::string& id);
    void dispatch(json::request req);
    void do_read_later();
    void resume_input();
    bool fill_slot(std::uint64_t seq, std::string line);
    void on_reply(std::uint64_t seq, std::string line);
    void maybe_write();
    void do_write();
    void on_write(const boost::system::error_code& ec, std::size_t written);
    void on_peer_eof();
    void maybe_finish();
    void start_linger();
    void discard_input();
    void arm_timer(std::chrono::steady_clock::time_point deadline);
    void arm_timer_by(std::chrono::steady_clock::time_point deadline);
    std::pair<std::chrono::steady_clock::time_point, expiry> next_deadline() const;
    void on_timer(std::uint64_t generation);
    void request_timed_out();
    void close_now() noexcept;
    template <class F>
    void guarded(const char* step, F&& f) noexcept;
    std::size_t outstanding() const { return slots_.size() + write_lines_.size(); }
    bool input_paused() const;
    bool may_read() const;

    connection_stream stream_;
    boost::asio::ip::tcp::socket& socket_;  // stream_'s TCP socket
    boost::asio::any_io_executor strand_;  // copy of socket_'s executor; read from any thread
    boost::asio::steady_timer timer_;
    dispatcher& dispatcher_;
    session_limits limits_;
    std::function<void(session*)> on_closed_;
    std::string peer_;  // "addr:port", for logs
    std::string setup_error_;  // why the socket could not be set up; start() closes then
    std::optional<auth::gate> gate_;  // who the client is and what it may do; empty: open

    json::framer framer_;
    std::string buf_;        // bytes read and not yet consumed by the framer
    std::deque<slot> slots_;  // requests whose responses are not yet being written, in order
    std::uint64_t head_seq_ = 0;  // sequence number of slots_.front()
    std::vector<std::string> write_lines_;  // the batch being written
    std::vector<std::chrono::steady_clock::time_point> write_submits_;  // the batch's submits, when read
    std::vector<boost::asio::const_buffer> write_buffers_;
    std::string tls_staging_;  // TLS: the batch's next bytes as one buffer (one record, not one per line)

    std::size_t unsent_bytes_ = 0;      // reply bytes known and not yet written
    std::size_t status_in_flight_ = 0;  // status reads dispatched and not yet answered

    // Activity is a whole request framed or reply bytes written, never a byte read.
    std::chrono::steady_clock::time_point last_activity_;
    std::chrono::steady_clock::time_point partial_since_;  // first byte of the unfinished request
    std::chrono::steady_clock::time_point write_progress_;  // last bytes the peer took
    std::chrono::steady_clock::time_point timer_deadline_;  // what the timer is armed for
    std::uint64_t timer_generation_ = 0;  // a timer wait whose generation is stale is ignored

    bool waiting_readable_ = false;  // an async_wait for input is outstanding
    bool writing_ = false;
    bool partial_ = false;     // buf_ ends in a request that has not arrived whole
    bool read_paused_ = false;  // reading stopped on a limit (not the peer's doing)
    bool input_done_ = false;  // no more requests are read (EOF, too long, shutdown)
    bool peer_eof_ = false;
    bool lingering_ = false;   // our side shut down; draining input until the peer closes
    bool closed_ = false;
};

}  // namespace pfo3::net
