#pragma once
// Splits a byte stream into JSON values without parsing them (SPEC 4.1): values may be
// separated by whitespace/newlines or follow each other directly. Never touches a socket.
// One per connection; not thread-safe.
#include <cstddef>
#include <string_view>

namespace pfo3::json {

/// What the framer found at the start of the unconsumed bytes.
enum class frame_status {
    complete,   ///< one whole value is in [begin, end); consume `consumed` bytes
    need_more,  ///< no whole value yet; drop `consumed` bytes (non-zero only when they were
                ///< all whitespace or skipped garbage), then call again with the rest plus more
    too_long,   ///< the value (so far) is larger than max_bytes: answer line_too_long, close
    bad,        ///< bytes that cannot start or continue a JSON value: answer bad_json, consume
                ///< `consumed` bytes (through the next newline, or all if none) and go on
};

/// The result of framer::next. Offsets are relative to the buffer given to next(). The caller
/// must always drop the first `consumed` bytes of its buffer, whatever the status.
struct frame {
    frame_status status = frame_status::need_more;
    std::size_t begin = 0;     ///< first byte of the value (after leading whitespace)
    std::size_t end = 0;       ///< one past its last byte
    std::size_t consumed = 0;  ///< bytes the caller must drop from the front of its buffer
};

/// Finds value boundaries incrementally: bytes already scanned are not scanned again when a
/// value arrives in pieces, so framing is linear in the input whatever the read sizes.
/// Nesting deeper than max_depth is `bad` (no recursion is ever involved, but the parser that
/// runs afterwards must not meet unbounded depth either).
class framer {
public:
    explicit framer(std::size_t max_bytes, std::size_t max_depth = 64) noexcept;

    /// Looks at `unconsumed` (all bytes not yet consumed, the ones given last time first).
    frame next(std::string_view unconsumed) noexcept;

private:
    std::size_t max_bytes_;
    std::size_t max_depth_;
    // Scan state carried across need_more:
    std::size_t scanned_ = 0;  // bytes of the current value already examined
    std::size_t begin_ = 0;    // where the current value starts, once found
    std::size_t depth_ = 0;
    bool started_ = false;
    bool in_string_ = false;
    bool escape_ = false;
    bool scalar_ = false;  // a top-level number/true/false/null: ends at a delimiter
    const char* literal_ = nullptr;  // the literal a bare word must spell, if not a number
    std::size_t literal_pos_ = 0;
    bool skipping_ = false;  // after `bad`: dropping bytes up to the next newline

    void reset() noexcept;
    frame fail(std::string_view buf, std::size_t pos, frame_status status) noexcept;
    frame complete(std::size_t end) noexcept;
};

}  // namespace pfo3::json
