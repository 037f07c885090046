#pragma once
// The one definition of every setting: its key, its type and the values it accepts. The TOML
// parser, the environment overrides and validate() all read this table, so each rule is written
// once and the three places can never disagree.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pfo3/config/settings.hpp"

namespace pfo3::config::detail {

/// Why a value is refused ("must be between 1 and 10, got 0"), without key or place;
/// nullopt when the value is fine.
using problem = std::optional<std::string>;

/// An integer setting and its inclusive range.
struct integer_rule {
    std::int64_t (*get)(const settings&);
    void (*set)(settings&, std::int64_t);  ///< only called with a value inside the range
    std::int64_t min;
    std::int64_t max;
};

/// A number setting (integers are accepted too) and its range.
struct number_rule {
    double (*get)(const settings&);
    void (*set)(settings&, double);
    double min;
    bool min_exclusive;  ///< true: the value must be greater than min
    double max;
};

/// A text setting and the check its value must pass.
struct text_rule {
    const std::string& (*get)(const settings&);
    void (*set)(settings&, std::string);
    problem (*check)(std::string_view);
};

/// One key of a fixed section ([amqp], [serve], ...) and its rule.
struct key_spec {
    std::string_view section;  ///< "serve"
    std::string_view name;     ///< "max_connections"
    std::variant<integer_rule, number_rule, text_rule> rule;

    /// "serve.max_connections"
    std::string dotted() const;
};

/// Every key of the fixed sections, in the order of config/pfo3.toml.
std::span<const key_spec> keys();
/// The key `section.name`, or nullptr if there is none.
const key_spec* find_key(std::string_view section, std::string_view name);
/// True for the names of the fixed sections and "handlers".
bool is_section(std::string_view name);

/// Range check of an integer against its rule.
problem check(const integer_rule& r, std::int64_t v);
/// Range check of a number against its rule (NaN is always refused).
problem check(const number_rule& r, double v);
/// The current value of `k` in `s` checked against its rule.
problem check_current(const key_spec& k, const settings& s);
/// Parses `text` (an environment variable's value) as `k`'s type, checks it and stores it.
problem set_from_text(const key_spec& k, settings& s, std::string_view text);

/// The cross-field rule backoff_max_s >= backoff_base_s, worded for backoff_max_s.
problem check_backoff_max(const retry_settings& r);
/// The same rule, worded for backoff_base_s (when only the base was set in a file).
problem check_backoff_base(const retry_settings& r);

/// The cross-field rule max_attempts <= max_attempts_limit, worded for max_attempts.
problem check_attempts_within_limit(const retry_settings& r);
/// The same rule, worded for max_attempts_limit (when only the limit was set in a file).
problem check_attempts_limit_covers(const retry_settings& r);

/// The S3 keys of [store]: a key id and a secret both or neither; a session token only with both
/// (the store never mixes the file's keys with the environment's, so half a pair is useless).
problem check_s3_pair(const store_settings& st);
/// amqp.max_priority > 0 needs a queue pfo3 declares with arguments: not the teaching queue
/// "tareas" (its programs declare it without), not a quorum queue (RabbitMQ before 4.0).
problem check_max_priority(const amqp_settings& a);

/// A broker URL (amqp.url, each of amqp.urls): amqp:// or amqps://; messages mask the password.
problem check_amqp_url(std::string_view v);

/// A handler's NAME in [handlers.NAME]: valid like a task type.
problem check_handler_name(std::string_view name);
/// A handler's command: non-empty, the program an absolute path or a bare name, no NUL.
problem check_handler_command(const std::vector<std::string>& command);
/// A handler's env: "NAME" or "NAME=VALUE" entries; a bare NAME may not be one of the worker's
/// own variables (PFO3_*, AWS_*, PG*), which hold its secrets.
problem check_handler_env(const std::vector<std::string>& env);
/// A handler's timeout_s: greater than 0, at most 86400.
problem check_handler_timeout(double seconds);

/// The known keys of a [handlers.NAME] table.
std::span<const std::string_view> handler_keys();

/// The candidate closest to `word` when it is an obvious typo of it, for "did you mean".
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates);
/// `word` in double quotes, control bytes escaped, cut after 80 bytes: safe in a message.
std::string quote(std::string_view word);
/// A double in its shortest exact text (1, 0.2, 600).
std::string format_number(double v);

}  // namespace pfo3::config::detail
