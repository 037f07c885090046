#pragma once
// One client connection of the server (SPEC 4.1): frames and decodes requests, hands them to
// the dispatcher, writes responses in request order. Lives on its own strand; every member
// below is touched only there. Kept alive by its pending handlers and reply callbacks.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pfo3/json/framer.hpp"
#include "pfo3/net/dispatcher.hpp"

namespace pfo3::net {

/// The limits a session enforces (from server_options).
struct session_limits {
    std::size_t max_request_bytes = 1048576;
    std::size_t max_pipelined = 1024;
    std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(300);
};

/// See the file comment. Thread-safe only through its public members, which post to the strand.
class session : public std::enable_shared_from_this<session> {
public:
    /// Takes a connected socket whose executor is this session's strand. `on_closed` runs once,
    /// on the strand, when the socket has been closed.
    session(boost::asio::ip::tcp::socket socket, dispatcher& d, session_limits limits,
            std::function<void(session*)> on_closed);
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
    };

    void do_read();
    void on_readable(const boost::system::error_code& ec);
    void process_buffer();
    void add_ready(std::string line);
    void dispatch(json::request req);
    void do_read_later();
    void on_reply(std::uint64_t seq, std::string line);
    void maybe_write();
    void on_write(const boost::system::error_code& ec);
    void on_peer_eof();
    void maybe_finish();
    void start_linger();
    void discard_input();
    void arm_timer(std::chrono::steady_clock::time_point deadline);
    void on_timer(std::uint64_t generation);
    void close_now() noexcept;
    template <class F>
    void guarded(const char* step, F&& f) noexcept;
    std::size_t outstanding() const { return slots_.size() + write_lines_.size(); }
    bool may_read() const;

    boost::asio::ip::tcp::socket socket_;
    boost::asio::any_io_executor strand_;  // copy of socket_'s executor; read from any thread
    boost::asio::steady_timer timer_;
    dispatcher& dispatcher_;
    session_limits limits_;
    std::function<void(session*)> on_closed_;
    std::string peer_;  // "addr:port", for logs
    std::string setup_error_;  // why the socket could not be set up; start() closes then

    json::framer framer_;
    std::string buf_;        // bytes read and not yet consumed by the framer
    std::deque<slot> slots_;  // requests whose responses are not yet being written, in order
    std::uint64_t head_seq_ = 0;  // sequence number of slots_.front()
    std::vector<std::string> write_lines_;  // the batch being written
    std::vector<boost::asio::const_buffer> write_buffers_;

    std::chrono::steady_clock::time_point last_activity_;
    std::uint64_t timer_generation_ = 0;  // a timer wait whose generation is stale is ignored

    bool waiting_readable_ = false;  // an async_wait for input is outstanding
    bool writing_ = false;
    bool input_done_ = false;  // no more requests are read (EOF, too long, shutdown)
    bool peer_eof_ = false;
    bool lingering_ = false;   // our side shut down; draining input until the peer closes
    bool closed_ = false;
};

}  // namespace pfo3::net
