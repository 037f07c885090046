#pragma once
// Reading JSON that other modules did not write themselves (a handler's payload, a stored
// record, a dead letter) without seeing the parser: json::parse gives a read-only document
// whose values are small views. Every parse in pfo3 goes through the same strict reader:
// UTF-8 checked, nesting bounded, numbers converted exactly, nothing but whitespace after
// the value.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pfo3::json {

namespace detail {
struct value_access;
}

/// Nesting bound of a parse that names none: what pfo3 accepts in message bodies and
/// handler results (a request allows less, protocol.hpp's max_request_depth).
inline constexpr std::size_t default_max_depth = 256;

/// The kinds of JSON value.
enum class kind { null, boolean, number, string, array, object };

/// "null", "a boolean", "a number", "a string", "an array" or "an object", for messages.
std::string_view kind_name(kind k) noexcept;

struct member;

/// One value inside a document: cheap to copy, valid while its document lives. Accessors
/// never throw; asked for the wrong kind they give an empty answer (nullopt, "", 0).
class value {
public:
    kind type() const noexcept;
    bool is(kind k) const noexcept { return type() == k; }
    std::string_view kind_name() const noexcept { return json::kind_name(type()); }

    bool boolean() const noexcept;              ///< a boolean's value
    std::string_view string() const noexcept;   ///< a string's text (valid UTF-8)
    /// An integer written without fraction or exponent that fits; nullopt for any other value,
    /// a whole double (1.0, 1e3) included.
    std::optional<std::int64_t> int64() const noexcept;
    std::optional<std::uint64_t> uint64() const noexcept;  ///< the same, for 0..2^64-1
    double number() const noexcept;  ///< any number as the nearest double

    std::size_t size() const noexcept;                ///< elements of an array, members of an object
    value operator[](std::size_t i) const noexcept;   ///< element i < size() of an array
    member member_at(std::size_t i) const noexcept;   ///< member i < size() of an object, in text order
    /// The first member called `name` of an object (later duplicates are ignored everywhere).
    std::optional<value> find(std::string_view name) const noexcept;

    /// The value as compact JSON: no whitespace, numbers as number_text writes them.
    std::string compact() const;
    void append_compact(std::string& out) const;

private:
    friend struct detail::value_access;
    explicit value(const void* v) noexcept : v_(v) {}
    const void* v_;  // the parser's value, owned by a document
};

/// One member of an object.
struct member {
    std::string_view name;
    json::value value;
};

/// Parsed JSON: owns the values its root() views. Move-only.
class document {
public:
    document(document&&) noexcept;
    document& operator=(document&&) noexcept;
    ~document();

    value root() const noexcept;

private:
    struct impl;
    explicit document(std::unique_ptr<impl> i) noexcept;
    std::unique_ptr<impl> impl_;
    friend std::optional<document> parse(std::string_view, std::string&, std::size_t);
};

/// Parses `text` as exactly one JSON value (surrounding whitespace allowed). nullopt when it
/// is not one, with `why` saying what and where ("invalid JSON at byte 3: ...", "invalid UTF-8
/// in a string at byte 7", "JSON nested deeper than 256 levels", ...). Arrays and objects
/// deeper than `max_depth` are refused, so whatever reads the result recursively is bounded.
std::optional<document> parse(std::string_view text, std::string& why,
                              std::size_t max_depth = default_max_depth);

/// A finite double as JSON writes it: the shortest text that reads back as `d`, with ".0" on
/// a whole number ("3.0", "0.1", "1e22"). Use this, not std::to_string, for computed results.
std::string number_text(double d);

}  // namespace pfo3::json
