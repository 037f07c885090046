#include "pfo3/json/framer.hpp"

namespace pfo3::json {

namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// A character that ends a top-level bare scalar (number, true, false, null).
bool ends_scalar(char c) noexcept {
    switch (c) {
    case ' ': case '\n': case '\r': case '\t':
    case '{': case '}': case '[': case ']': case ',': case ':': case '"':
        return true;
    default:
        return false;
    }
}

bool starts_number(char c) noexcept { return c == '-' || (c >= '0' && c <= '9'); }

bool number_char(char c) noexcept {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

const char* literal_for(char c) noexcept {
    switch (c) {
    case 't': return "true";
    case 'f': return "false";
    case 'n': return "null";
    default: return nullptr;
    }
}

}  // namespace

framer::framer(std::size_t max_bytes, std::size_t max_depth) noexcept
    : max_bytes_(max_bytes), max_depth_(max_depth) {}

void framer::reset() noexcept {
    scanned_ = 0;
    begin_ = 0;
    depth_ = 0;
    started_ = false;
    in_string_ = false;
    escape_ = false;
    scalar_ = false;
    literal_ = nullptr;
    literal_pos_ = 0;
}

frame framer::fail(std::string_view buf, std::size_t pos, frame_status status) noexcept {
    frame f;
    f.status = status;
    f.begin = begin_;
    f.end = pos;
    if (status == frame_status::too_long) {
        // The connection is closed after line_too_long; drop everything we were given.
        f.consumed = buf.size();
    } else {
        // Resynchronise at the next newline: clients that send one request per line recover.
        auto nl = buf.find('\n', pos);
        if (nl == std::string_view::npos) {
            f.consumed = buf.size();
            skipping_ = true;
        } else {
            f.consumed = nl + 1;
        }
    }
    reset();
    return f;
}

frame framer::next(std::string_view buf) noexcept {
    std::size_t pos = 0;
    if (!started_) {
        // Nothing carried over: every earlier byte was consumed, so `buf` starts fresh.
        if (skipping_) {
            auto nl = buf.find('\n');
            if (nl == std::string_view::npos) return frame{frame_status::need_more, 0, 0, buf.size()};
            skipping_ = false;
            pos = nl + 1;
        }
        while (pos < buf.size() && is_space(buf[pos])) ++pos;
        if (pos == buf.size()) return frame{frame_status::need_more, 0, 0, buf.size()};
        const char c = buf[pos];
        begin_ = pos;
        if (c == '{' || c == '[') {
            depth_ = 1;
            if (depth_ > max_depth_) return fail(buf, pos, frame_status::bad);
        } else if (c == '"') {
            in_string_ = true;  // a top-level string: ends at its closing quote, depth 0
        } else if (starts_number(c) || literal_for(c)) {
            // A bare word must stay a JSON literal or number as it goes, so a line of prose
            // ("this is not json") is one bad value, not one per word.
            scalar_ = true;
            literal_ = literal_for(c);
            literal_pos_ = 1;
        } else {
            return fail(buf, pos, frame_status::bad);
        }
        started_ = true;
        scanned_ = pos + 1;
    }

    // Bytes before scanned_ were examined by an earlier call (or just above); resume there.
    pos = scanned_;
    const std::size_t n = buf.size();
    while (pos < n) {
        // Bytes [begin_, pos) all belong to the unfinished value.
        if (pos - begin_ > max_bytes_) return fail(buf, pos, frame_status::too_long);
        const char c = buf[pos];
        if (in_string_) {
            if (escape_) {
                escape_ = false;
            } else if (c == '\\') {
                escape_ = true;
            } else if (c == '"') {
                in_string_ = false;
                if (depth_ == 0) return complete(pos + 1);
            }
        } else if (scalar_) {
            if (ends_scalar(c)) return complete(pos);
            // A whole literal is followed only by a delimiter; its terminating NUL must not
            // match a NUL byte of the input (that would read past the literal).
            bool fits = literal_ ? literal_[literal_pos_] != '\0' && literal_[literal_pos_] == c
                                 : number_char(c);
            if (!fits) return fail(buf, pos, frame_status::bad);
            if (literal_) ++literal_pos_;
        } else {
            switch (c) {
            case '{':
            case '[':
                if (++depth_ > max_depth_) return fail(buf, pos, frame_status::bad);
                break;
            case '}':
            case ']':
                if (--depth_ == 0) return complete(pos + 1);
                break;
            case '"':
                in_string_ = true;
                break;
            default:
                break;
            }
        }
        ++pos;
    }
    if (n - begin_ > max_bytes_) return fail(buf, n, frame_status::too_long);
    scanned_ = n;
    // consumed stays 0 while a value is open, so the offsets kept above remain valid whether
    // or not the caller drops anything.
    return frame{frame_status::need_more, begin_, n, 0};
}

frame framer::complete(std::size_t end) noexcept {
    frame f{frame_status::complete, begin_, end, end};
    if (end - begin_ > max_bytes_) f.status = frame_status::too_long;
    reset();
    return f;
}

}  // namespace pfo3::json
