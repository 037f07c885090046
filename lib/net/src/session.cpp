#include "session.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <array>
#include <exception>
#include <string_view>
#include <utility>

#include "pfo3/core/log.hpp"
#include "pfo3/json/protocol.hpp"

namespace pfo3::net {

namespace asio = boost::asio;
using boost::system::error_code;
using clock = std::chrono::steady_clock;

namespace {

// How long a closing connection waits for the peer to close after our FIN. Closing with unread
// input makes the kernel send RST, which can destroy the response we just wrote before the
// peer reads it (a line_too_long client is typically still sending).
constexpr auto linger_timeout = std::chrono::seconds(2);
// Synchronous reads per turn on the strand before yielding to other work.
constexpr int reads_per_turn = 16;
// Above this, an empty input buffer gives its memory back (idle connections stay small).
constexpr std::size_t keep_capacity = 4096;

// Every read goes through this scratch buffer so that an idle connection holds no read buffer.
thread_local std::array<char, session::read_chunk> scratch;

bool would_block(const error_code& ec) {
    return ec == asio::error::would_block || ec == asio::error::try_again;
}

bool only_whitespace(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

}  // namespace

session::session(connection_stream stream, dispatcher& d, session_limits limits,
                 std::function<void(session*)> on_closed)
    : stream_(std::move(stream)),
      socket_(stream_.socket()),
      strand_(socket_.get_executor()),
      timer_(strand_),
      dispatcher_(d),
      limits_(limits),
      on_closed_(std::move(on_closed)),
      framer_(limits.max_request_bytes) {
    if (limits_.max_pipelined == 0) limits_.max_pipelined = 1;
    // Nothing else uses the socket yet, so it is set up here, before any handler can run.
    error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    std::string addr = "?";
    if (!ec) {
        addr = ep.address().to_string();
        peer_ = (ep.address().is_v6() ? "[" + addr + "]" : addr) + ":" + std::to_string(ep.port());
    } else {
        peer_ = "?";
    }
    if (limits_.auth) gate_.emplace(limits_.auth, addr, stream_.peer_subject);
    // Reads are done synchronously after readiness, so they must never block.
    socket_.non_blocking(true, ec);
    if (ec) setup_error_ = "non-blocking mode: " + ec.message();
    // Responses are small and pipelined: do not let Nagle hold them back.
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

template <class F>
void session::guarded(const char* step, F&& f) noexcept {
    try {
        f();
    } catch (const std::exception& e) {
        // A bug or resource exhaustion on one connection must not take the io thread down.
        PFO3_LOG(error, "connection handler failed; closing the connection",
                 {{"peer", peer_}, {"step", step}, {"error", e.what()}});
        close_now();
    }
}

void session::start() {
    asio::post(strand_, [self = shared_from_this()] {
        self->guarded("start", [&] {
            if (self->closed_) return;
            if (!self->setup_error_.empty()) {
                PFO3_LOG(warn, "cannot set up connection; closing it",
                         {{"peer", self->peer_}, {"error", self->setup_error_}});
                self->close_now();
                return;
            }
            self->last_activity_ = clock::now();
            if (!self->lingering_) self->arm_timer(self->next_deadline().first);
            PFO3_LOG(debug, "connection opened", {{"peer", self->peer_}});
            self->do_read();
        });
    });
}

void session::stop_input() {
    asio::post(strand_, [self = shared_from_this()] {
        self->guarded("stop_input", [&] {
            if (self->closed_ || self->input_done_) return;
            self->input_done_ = true;
            std::string().swap(self->buf_);
            self->maybe_write();
        });
    });
}

void session::close() {
    asio::post(strand_, [self = shared_from_this()] { self->close_now(); });
}

bool session::input_paused() const {
    return outstanding() >= limits_.max_pipelined || unsent_bytes_ >= limits_.max_unsent_reply_bytes ||
           status_in_flight_ >= limits_.max_status_in_flight;
}

bool session::may_read() const {
    return !closed_ && !input_done_ && !waiting_readable_ && !input_paused();
}

// Reads what is there without blocking (the socket is non-blocking; a TLS read that needs more
// bytes than have arrived reports would_block like a plain one). A TLS peer that closes
// without close_notify is an EOF like a plain one.
std::size_t session::read_some(char* data, std::size_t size, error_code& ec) {
    if (!stream_.tls) return socket_.read_some(asio::buffer(data, size), ec);
    const std::size_t got = stream_.tls->read_some(asio::buffer(data, size), ec);
    if (ec == asio::ssl::error::stream_truncated) ec = asio::error::eof;
    return got;
}

void session::do_read() {
    const std::size_t cap = limits_.max_request_bytes + read_chunk;
    if (!closed_ && !input_done_ && input_paused()) read_paused_ = true;
    for (int turn = 0; may_read(); ++turn) {
        if (turn == reads_per_turn) {
            do_read_later();
            return;
        }
        // process_buffer() leaves less than `cap` bytes whenever reading is allowed.
        const std::size_t n = std::min(read_chunk, cap - std::min(cap, buf_.size()));
        if (n == 0) {
            close_now();
            return;
        }
        error_code ec;
        std::size_t got = read_some(scratch.data(), n, ec);
        if (would_block(ec)) {
            waiting_readable_ = true;
            socket_.async_wait(asio::ip::tcp::socket::wait_read,
                               [self = shared_from_this()](const error_code& e) {
                                   self->on_readable(e);
                               });
            return;
        }
        if (ec == asio::error::eof) {
            on_peer_eof();
            return;
        }
        if (ec) {
            PFO3_LOG(debug, "read failed; closing the connection",
                     {{"peer", peer_}, {"error", ec.message()}});
            close_now();
            return;
        }
        buf_.append(scratch.data(), got);
        process_buffer();
        if (!closed_ && !input_done_ && input_paused()) read_paused_ = true;
    }
}

void session::do_read_later() {
    asio::post(strand_, [self = shared_from_this()] {
        self->guarded("read", [&] { self->do_read(); });
    });
}

void session::on_readable(const error_code& ec) {
    waiting_readable_ = false;
    guarded("read", [&] {
        if (closed_) return;
        if (lingering_) {
            discard_input();
            return;
        }
        if (ec) {
            if (ec != asio::error::operation_aborted)
                PFO3_LOG(debug, "wait for input failed; closing the connection",
                         {{"peer", peer_}, {"error", ec.message()}});
            close_now();
            return;
        }
        do_read();
    });
}

void session::process_buffer() {
    std::size_t start = 0;
    bool framed = false;
    bool need_more = false;  // stopped for want of bytes, not on a limit
    while (!closed_ && !input_done_ && start < buf_.size() && !input_paused()) {
        std::string_view rest(buf_);
        rest.remove_prefix(start);
        const json::frame f = framer_.next(rest);
        const std::size_t consumed = std::min(f.consumed, rest.size());
        if (f.status == json::frame_status::need_more) {
            start += consumed;
            need_more = true;
            break;
        }
        if (f.status == json::frame_status::too_long) {
            PFO3_LOG(debug, "request too long; answering line_too_long and closing",
                     {{"peer", peer_},
                      {"max_request_bytes", std::to_string(limits_.max_request_bytes)}});
            refuse_now(request_error::line_too_long,
                       json::encode_rejected(request_error::line_too_long,
                                             "the request is larger than " +
                                                 std::to_string(limits_.max_request_bytes) +
                                                 " bytes; closing the connection"));
            input_done_ = true;
            std::string().swap(buf_);
            maybe_write();
            return;
        }
        if (consumed == 0) {
            // A framer that consumes nothing would make this loop spin forever.
            PFO3_LOG(error, "framer made no progress; closing the connection", {{"peer", peer_}});
            close_now();
            return;
        }
        framed = true;
        if (f.status == json::frame_status::bad) {
            refuse_now(request_error::bad_json, json::encode_rejected(request_error::bad_json,
                                            default_message(request_error::bad_json)));
        } else {
            const std::size_t end = std::min(f.end, rest.size());
            const std::size_t begin = std::min(f.begin, end);
            json::decoded d = json::decode_request(rest.substr(begin, end - begin), limits_.request);
            if (d.req)
                admit(std::move(*d.req));
            else
                refuse_now(d.error, json::encode_rejected(d.error, d.message, d.id));
        }
        start += consumed;
    }
    if (closed_) return;
    if (framed) last_activity_ = clock::now();
    buf_.erase(0, start);
    if (buf_.empty() && buf_.capacity() > keep_capacity) std::string().swap(buf_);
    note_partial_request(need_more);
    if (!input_done_ && need_more && buf_.size() >= limits_.max_request_bytes + read_chunk) {
        // The framer keeps asking for more (e.g. an endless run of whitespace): the bound on
        // memory per connection wins.
        refuse_now(request_error::line_too_long, json::encode_rejected(request_error::line_too_long,
                                        default_message(request_error::line_too_long)));
        input_done_ = true;
        std::string().swap(buf_);
    }
    maybe_write();
}

void session::note_partial_request(bool need_more) {
    // What is left after framing is the start of a request only when it is more than
    // whitespace and framing stopped for want of bytes (not on a limit of ours).
    const bool partial = !input_done_ && need_more && !only_whitespace(buf_);
    if (partial && !partial_) {
        partial_since_ = clock::now();
        arm_timer_by(partial_since_ + limits_.request_timeout);
    }
    partial_ = partial;
}

void session::add_ready(std::string line) {
    unsent_bytes_ += line.size();
    slots_.push_back(slot{std::move(line), true});
}

void session::refuse_now(request_error code, std::string line) {
    if (limits_.observe.refused) limits_.observe.refused(code);
    add_ready(std::move(line));
}

void session::dispatch(json::request req) {
    const std::uint64_t seq = head_seq_ + slots_.size();
    slots_.emplace_back();
    // Answered by another thread (the store's, the dead letters'): bounded per connection.
    if (req.kind == json::op::status || req.kind == json::op::cancel || json::is_dead_letter_op(req.kind)) {
        slots_.back().status = true;
        ++status_in_flight_;
    }
    if (req.kind == json::op::submit && limits_.observe.submit_answered) slots_.back().submit_read = clock::now();
    auto self = shared_from_this();
    dispatcher::reply done = [self, seq](std::string line) {
        // Any thread: hop onto the strand before touching the session.
        asio::post(self->strand_, [self, seq, line = std::move(line)]() mutable {
            self->on_reply(seq, std::move(line));
        });
    };
    try {
        dispatcher_.dispatch(std::move(req), std::move(done));
    } catch (const std::exception& e) {
        PFO3_LOG(error, "dispatcher threw; answering unavailable",
                 {{"peer", peer_}, {"error", e.what()}});
        // Only the slot: this runs inside process_buffer(), which writes when it is done.
        fill_slot(seq, json::encode_rejected(request_error::unavailable,
                                             "internal error; the request was NOT accepted"));
    }
}

bool session::fill_slot(std::uint64_t seq, std::string line) {
    if (seq < head_seq_ || seq - head_seq_ >= slots_.size()) {
        PFO3_LOG(warn, "reply for an unknown request ignored", {{"peer", peer_}});
        return false;
    }
    slot& s = slots_[static_cast<std::size_t>(seq - head_seq_)];
    if (s.ready) {
        PFO3_LOG(warn, "second reply for one request ignored", {{"peer", peer_}});
        return false;
    }
    if (line.empty() || line.back() != '\n') line.push_back('\n');
    unsent_bytes_ += line.size();
    s.line = std::move(line);
    s.ready = true;
    if (s.status) --status_in_flight_;
    return true;
}

void session::on_reply(std::uint64_t seq, std::string line) {
    guarded("reply", [&] {
        if (closed_) return;  // the connection is gone; nobody is left to tell
        if (!fill_slot(seq, std::move(line))) return;
        maybe_write();
        resume_input();
    });
}

void session::resume_input() {
    if (closed_ || input_done_ || waiting_readable_ || input_paused()) return;
    if (read_paused_) {
        read_paused_ = false;
        // The peer could not send while we did not read: its request clock starts again.
        if (partial_) partial_since_ = clock::now();
    }
    // Frame what is buffered first, then read on.
    process_buffer();
    do_read();
}

void session::maybe_write() {
    if (writing_ || closed_) return;
    while (!slots_.empty() && slots_.front().ready) {
        if (slots_.front().submit_read != clock::time_point{}) write_submits_.push_back(slots_.front().submit_read);
        write_lines_.push_back(std::move(slots_.front().line));
        slots_.pop_front();
        ++head_seq_;
    }
    if (write_lines_.empty()) {
        maybe_finish();
        return;
    }
    // Built after all moves: a moved short string would otherwise change its address.
    write_buffers_.clear();
    write_buffers_.reserve(write_lines_.size());
    for (const auto& l : write_lines_) write_buffers_.push_back(asio::buffer(l));
    writing_ = true;
    write_progress_ = clock::now();
    arm_timer_by(write_progress_ + limits_.write_timeout);
    do_write();
}

// One write_some at a time, so that every byte the peer takes counts as progress against
// write_timeout (a whole async_write would only report at its end).
void session::do_write() {
    if (!stream_.tls) {
        socket_.async_write_some(write_buffers_, [self = shared_from_this()](const error_code& ec, std::size_t n) {
            self->on_write(ec, n);
        });
        return;
    }
    // A TLS write takes one buffer: gather up to one record's worth of the batch.
    constexpr std::size_t record = 16384;
    tls_staging_.clear();
    for (const auto& b : write_buffers_) {
        if (tls_staging_.size() >= record) break;
        const std::size_t n = std::min(b.size(), record - tls_staging_.size());
        tls_staging_.append(static_cast<const char*>(b.data()), n);
    }
    stream_.tls->async_write_some(asio::buffer(tls_staging_),
                                  [self = shared_from_this()](const error_code& ec, std::size_t n) {
                                      self->on_write(ec, n);
                                  });
}

void session::on_write(const error_code& ec, std::size_t written) {
    guarded("write", [&] {
        if (closed_) {
            writing_ = false;
            return;
        }
        if (ec) {
            writing_ = false;
            PFO3_LOG(debug, "write failed; closing the connection",
                     {{"peer", peer_}, {"error", ec.message()}});
            close_now();
            return;
        }
        unsent_bytes_ -= std::min(unsent_bytes_, written);
        if (written > 0) {
            write_progress_ = clock::now();
            last_activity_ = write_progress_;
        }
        // Drop what was written from the front of the batch.
        auto first = write_buffers_.begin();
        while (first != write_buffers_.end() && written >= first->size()) {
            written -= first->size();
            ++first;
        }
        if (first != write_buffers_.end()) *first += written;
        write_buffers_.erase(write_buffers_.begin(), first);
        if (!write_buffers_.empty()) {
            do_write();
            return;
        }
        writing_ = false;
        write_lines_.clear();
        write_buffers_.clear();
        if (!write_submits_.empty()) {
            const auto now = clock::now();
            for (const auto read : write_submits_) limits_.observe.submit_answered(now - read);
            write_submits_.clear();
        }
        // Reading may have paused on a limit: frame what is buffered, then read on.
        resume_input();
        maybe_write();
    });
}

void session::on_peer_eof() {
    peer_eof_ = true;
    input_done_ = true;
    if (!only_whitespace(buf_))
        add_ready(json::encode_rejected(request_error::bad_json,
                                        "the connection ended in the middle of a JSON value"));
    std::string().swap(buf_);
    maybe_write();
}

void session::maybe_finish() {
    if (closed_ || !input_done_ || writing_ || !slots_.empty()) return;
    if (peer_eof_) {
        // Everything the peer sent has been read, so closing sends a clean FIN.
        close_now();
        return;
    }
    start_linger();
}

void session::start_linger() {
    if (lingering_) return;
    lingering_ = true;
    error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    if (ec || !setup_error_.empty()) {
        close_now();
        return;
    }
    arm_timer(clock::now() + std::min<clock::duration>(linger_timeout, limits_.idle_timeout));
    std::string().swap(buf_);
    if (!waiting_readable_) discard_input();
}

void session::discard_input() {
    for (int turn = 0; turn < reads_per_turn; ++turn) {
        error_code ec;
        read_some(scratch.data(), scratch.size(), ec);
        if (would_block(ec)) {
            waiting_readable_ = true;
            socket_.async_wait(asio::ip::tcp::socket::wait_read,
                               [self = shared_from_this()](const error_code& e) {
                                   self->on_readable(e);
                               });
            return;
        }
        if (ec) {  // EOF: the peer has read our FIN and closed; or the connection broke
            close_now();
            return;
        }
    }
    asio::post(strand_, [self = shared_from_this()] {
        self->guarded("linger", [&] {
            if (!self->closed_) self->discard_input();
        });
    });
}

void session::arm_timer(clock::time_point deadline) {
    const std::uint64_t generation = ++timer_generation_;
    timer_deadline_ = deadline;
    timer_.expires_at(deadline);
    timer_.async_wait([self = shared_from_this(), generation](const error_code&) {
        self->on_timer(generation);
    });
}

// The timer is armed lazily (it fires, then looks at what is due); a new deadline only needs
// it re-armed when it falls before the one already set.
void session::arm_timer_by(clock::time_point deadline) {
    if (!lingering_ && deadline < timer_deadline_) arm_timer(deadline);
}

std::pair<clock::time_point, session::expiry> session::next_deadline() const {
    if (writing_) {
        // Replies wait for the peer: only its taking them counts.
        return {write_progress_ + limits_.write_timeout, expiry::write};
    }
    if (partial_ && !input_done_ && !input_paused())
        return {partial_since_ + limits_.request_timeout, expiry::request};
    if (outstanding() > 0) {
        // Waiting for the dispatcher: not idle; look again later.
        return {clock::now() + limits_.idle_timeout, expiry::none};
    }
    return {last_activity_ + limits_.idle_timeout, expiry::idle};
}

void session::on_timer(std::uint64_t generation) {
    guarded("timer", [&] {
        if (closed_ || generation != timer_generation_) return;
        if (lingering_) {
            close_now();
            return;
        }
        const auto [deadline, why] = next_deadline();
        if (why == expiry::none || clock::now() < deadline) {
            arm_timer(deadline);
            return;
        }
        switch (why) {
        case expiry::write:
            PFO3_LOG(debug, "the peer takes no replies; closing the connection",
                     {{"peer", peer_}, {"unsent_bytes", std::to_string(unsent_bytes_)}});
            close_now();
            return;
        case expiry::request: request_timed_out(); return;
        case expiry::idle:
            PFO3_LOG(debug, "closing idle connection", {{"peer", peer_}});
            close_now();
            return;
        case expiry::none: break;
        }
    });
}

void session::request_timed_out() {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(limits_.request_timeout).count();
    PFO3_LOG(debug, "a request did not arrive in time; answering bad_request and closing",
             {{"peer", peer_}, {"request_timeout_s", std::to_string(seconds)}, {"bytes", std::to_string(buf_.size())}});
    add_ready(json::encode_rejected(request_error::bad_request,
                                    "the request did not arrive whole within " + std::to_string(seconds) +
                                        " s of its first byte; closing the connection"));
    input_done_ = true;
    partial_ = false;
    std::string().swap(buf_);
    maybe_write();
    // The answer may not be writable right away (earlier replies pending): keep the timers.
    if (!closed_ && !lingering_) arm_timer(next_deadline().first);
}

void session::close_now() noexcept {
    if (closed_) return;
    closed_ = true;
    error_code ec;
    socket_.close(ec);
    // write_lines_ stays: a cancelled async_write may still refer to it until on_write runs.
    try {
        timer_.cancel();
        slots_.clear();
        PFO3_LOG(debug, "connection closed", {{"peer", peer_}});
    } catch (const std::exception&) {
        // Nothing left to do for this connection; the server must still hear about it.
    }
    auto cb = std::move(on_closed_);
    on_closed_ = nullptr;
    try {
        if (cb) cb(this);
    } catch (const std::exception& e) {
        try {
            PFO3_LOG(error, "cannot report a closed connection to the server",
                     {{"peer", peer_}, {"error", e.what()}});
        } catch (const std::exception&) {
        }
    }
}

}  // namespace pfo3::net
