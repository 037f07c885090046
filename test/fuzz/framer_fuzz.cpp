// Fuzzes json::framer the way a session drives it: the input (after a 4-byte header choosing
// the read sizes and the limits) arrives in chunks; every result is checked against the
// framer's contract, and the chunked run must find exactly what one whole read finds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "pfo3/json/framer.hpp"
#include "pfo3/json/protocol.hpp"

namespace {

using pfo3::fuzz::check;
using pfo3::json::frame;
using pfo3::json::frame_status;
using pfo3::json::framer;

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// One thing the caller learnt, with offsets in the whole stream.
struct event {
    frame_status status;
    std::size_t begin = 0;  // complete: the value; bad: where the framer gave up
    std::size_t end = 0;
    bool operator==(const event&) const = default;
};

struct limits {
    std::size_t max_bytes;
    std::size_t max_depth;
};

// Reads sizes from a tiny xorshift generator seeded by the header, so one input always splits
// the same way and libFuzzer can mutate the split by flipping header bits.
class splitter {
public:
    splitter(std::uint16_t seed, std::size_t max_chunk)
        : state_(seed * 2654435761u + 1), max_chunk_(max_chunk) {}
    std::size_t next() {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        return 1 + state_ % max_chunk_;
    }

private:
    std::uint32_t state_;
    std::size_t max_chunk_;
};

// Plays the session (lib/net/src/session.cpp, process_buffer): appends each read to a buffer,
// frames from the front until need_more, drops what was consumed.
std::vector<event> run(std::string_view stream, limits lim, splitter* split) {
    framer f(lim.max_bytes, lim.max_depth);
    std::vector<event> events;
    std::string buf;
    std::size_t buf_offset = 0;  // stream offset of buf[0]
    std::size_t fed = 0;
    std::size_t largest_read = 0;
    bool last_was_bad = false;
    std::size_t mark = 0;  // stream offset where the last complete/bad event's consumed ended
    while (fed < stream.size()) {
        const std::size_t n = split ? std::min(split->next(), stream.size() - fed)
                                    : stream.size() - fed;
        buf.append(stream.substr(fed, n));
        fed += n;
        largest_read = std::max(largest_read, n);
        const std::size_t most_events = buf.size() + 1;  // each one consumes at least a byte
        for (std::size_t guard = 0;; ++guard) {
            check(guard <= most_events, "framer loops without progress");
            const frame fr = f.next(buf);
            check(fr.consumed <= buf.size(), "consumed > buffer size");
            if (fr.status == frame_status::need_more) {
                buf.erase(0, fr.consumed);
                buf_offset += fr.consumed;
                // A value still open holds at most max_bytes beyond the whitespace that came
                // before it in the read where it began, so the session's buffer is bounded.
                check(buf.size() <= lim.max_bytes + largest_read,
                      "unconsumed bytes exceed the bound");
                break;
            }
            if (fr.status == frame_status::too_long) {
                events.push_back({frame_status::too_long, 0, 0});
                return events;  // the session closes the connection
            }
            check(fr.consumed > 0, "complete/bad consumed nothing");
            if (fr.status == frame_status::complete) {
                check(fr.begin < fr.end, "complete: begin >= end");
                check(fr.end <= fr.consumed, "complete: end > consumed");
                check(fr.end - fr.begin <= lim.max_bytes, "complete value longer than max_bytes");
                const std::string_view value(buf.data() + fr.begin, fr.end - fr.begin);
                const char c = value.front();
                check(c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') ||
                          c == 't' || c == 'f' || c == 'n',
                      "complete value starts with a byte that cannot start JSON");
                if (c == '{' || c == '[')
                    check(value.back() == '}' || value.back() == ']', "container not closed");
                if (c == '"') check(value.size() >= 2 && value.back() == '"', "string not closed");
                // Between the previous event and this value there is only whitespace, or (after
                // a bad value) the rest of the bad line, its newline, then whitespace.
                const std::size_t abs_begin = buf_offset + fr.begin;
                std::string_view gap = stream.substr(mark, abs_begin - mark);
                if (last_was_bad) {
                    auto nl = gap.find('\n');
                    if (nl != std::string_view::npos) gap.remove_prefix(nl + 1);
                }
                for (char g : gap) check(is_space(g), "non-whitespace skipped before a value");
                events.push_back({frame_status::complete, abs_begin, buf_offset + fr.end});
                last_was_bad = false;
            } else {
                events.push_back({frame_status::bad, buf_offset + fr.end, 0});
                last_was_bad = true;
            }
            buf.erase(0, fr.consumed);
            buf_offset += fr.consumed;
            mark = buf_offset;
        }
    }
    return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    const std::uint16_t seed = static_cast<std::uint16_t>(data[0] | (data[1] << 8));
    // Mostly the server's defaults; sometimes tiny limits so too_long and too deep are reached.
    const std::size_t max_bytes =
        data[2] < 128 ? std::size_t{1} << 20 : std::size_t{1} + (data[2] & 127u) * 4;
    const std::size_t max_depth =
        data[3] < 128 ? pfo3::json::max_request_depth : std::size_t{1} + (data[3] & 7u);
    const limits lim{max_bytes, max_depth};
    const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

    const std::vector<event> whole = run(stream, lim, nullptr);
    splitter split(seed, 1 + (seed >> 10));  // chunks of 1..64 bytes
    const std::vector<event> chunked = run(stream, lim, &split);
    check(whole == chunked, "chunked reads frame differently from one whole read");
    splitter bytewise(0, 1);
    check(run(stream, lim, &bytewise) == whole, "byte-by-byte reads frame differently");

    // A stream that is exactly one valid request value (as the decoder sees it) plus a newline
    // must come out as that one value.
    if (stream.size() <= lim.max_bytes && lim.max_depth == pfo3::json::max_request_depth) {
        const auto d = pfo3::json::decode_request(stream);
        if (d.req || d.error != pfo3::request_error::bad_json) {
            std::string line(stream);
            line.push_back('\n');
            const std::vector<event> one = run(line, lim, nullptr);
            check(!one.empty() && one.front().status == frame_status::complete,
                  "a valid JSON value was not framed as complete");
            std::size_t b = 0, e = stream.size();
            while (b < e && is_space(stream[b])) ++b;
            while (e > b && is_space(stream[e - 1])) --e;
            check(one.size() == 1 && one.front().begin == b && one.front().end == e,
                  "a valid JSON value was framed with the wrong boundaries");
        }
    }
    return 0;
}
