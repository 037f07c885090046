#include "rules.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <type_traits>

#include "pfo3/core/log.hpp"
#include "pfo3/core/task.hpp"

namespace pfo3::config::detail {

namespace {

// Accessors generated from member pointers, so the table below names each field once.
template <auto Section, auto Member>
std::int64_t get_integer(const settings& s) {
    return static_cast<std::int64_t>((s.*Section).*Member);
}
template <auto Section, auto Member>
void set_integer(settings& s, std::int64_t v) {
    using field = std::remove_reference_t<decltype((s.*Section).*Member)>;
    (s.*Section).*Member = static_cast<field>(v);
}
template <auto Section, auto Member>
double get_number(const settings& s) {
    return (s.*Section).*Member;
}
template <auto Section, auto Member>
void set_number(settings& s, double v) {
    (s.*Section).*Member = v;
}
template <auto Section, auto Member>
const std::string& get_text(const settings& s) {
    return (s.*Section).*Member;
}
template <auto Section, auto Member>
void set_text(settings& s, std::string v) {
    (s.*Section).*Member = std::move(v);
}

template <auto Section, auto Member>
key_spec integer(std::string_view section, std::string_view name, std::int64_t min,
                 std::int64_t max) {
    return {section, name,
            integer_rule{&get_integer<Section, Member>, &set_integer<Section, Member>, min, max}};
}
template <auto Section, auto Member>
key_spec number(std::string_view section, std::string_view name, double min, bool min_exclusive,
                double max) {
    return {section, name,
            number_rule{&get_number<Section, Member>, &set_number<Section, Member>, min,
                        min_exclusive, max}};
}
template <auto Section, auto Member>
key_spec text(std::string_view section, std::string_view name, problem (*check)(std::string_view)) {
    return {section, name,
            text_rule{&get_text<Section, Member>, &set_text<Section, Member>, check}};
}

bool is_name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
}

bool is_name(std::string_view v, std::size_t max_len) noexcept {
    return !v.empty() && v.size() <= max_len && std::all_of(v.begin(), v.end(), is_name_char);
}

problem check_queue(std::string_view v) {
    if (is_name(v, 200)) return std::nullopt;
    return "must be 1 to 200 characters of [A-Za-z0-9._:-], got " + quote(v);
}

problem check_type(std::string_view v) {
    if (is_name(v, 128)) return std::nullopt;
    return "must be 1 to 128 characters of [A-Za-z0-9._:-], got " + quote(v);
}

problem check_failover(std::string_view v) {
    if (v == "round-robin" || v == "shuffle" || v == "in-order") return std::nullopt;
    return "must be \"round-robin\", \"shuffle\" or \"in-order\", got " + quote(v);
}

problem check_queue_type(std::string_view v) {
    if (v == "classic" || v == "quorum") return std::nullopt;
    return "must be \"classic\" or \"quorum\", got " + quote(v);
}

}  // namespace

// URLs carry passwords: every message quotes them masked.
problem check_amqp_url(std::string_view v) {
    if (v.starts_with("amqp://") || v.starts_with("amqps://")) return std::nullopt;
    return "must start with amqp:// or amqps://, got " + quote(log::mask_url(v));
}

namespace {

// Credentials go into a signed header: printable ASCII only. The message never quotes them.
problem check_credential(std::string_view v) {
    for (unsigned char c : v)
        if (c < 0x21 || c > 0x7e) return std::string("must be printable ASCII without spaces (value not shown)");
    return std::nullopt;
}

// A file path; empty means none.
problem check_path(std::string_view v) {
    if (v.find('\0') == std::string_view::npos) return std::nullopt;
    return std::string("must not contain a NUL character");
}

problem check_store_uri(std::string_view v) {
    // Relative, it would name another file in each process's working directory; serve and the
    // workers must share one (the store checks the rest of the path when it opens).
    if (v.starts_with("sqlite://") && !v.substr(9).starts_with('/'))
        return "must name a database file by its absolute path: sqlite:///DIR/FILE.db, got " + quote(log::mask_url(v));
    constexpr std::string_view need_location[] = {"file://", "sqlite://", "s3://"};
    for (auto scheme : need_location)
        if (v.starts_with(scheme)) {
            if (v.size() > scheme.size()) return std::nullopt;
            return "must name a location after " + std::string(scheme) + ", got " +
                   quote(log::mask_url(v));
        }
    if (v.starts_with("postgresql://") || v.starts_with("postgres://")) return std::nullopt;
    return "must start with sqlite://, file://, postgresql://, postgres:// or s3://, got " +
           quote(log::mask_url(v));
}

// HOST:PORT; an IPv6 host needs brackets ([::1]:5000) so the last colon is the port's.
bool is_host_port(std::string_view v, bool allow_port_zero) {
    auto colon = v.rfind(':');
    if (colon == std::string_view::npos) return false;
    auto host = v.substr(0, colon);
    auto port = v.substr(colon + 1);
    if (host.empty()) return false;
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') return false;
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        return false;
    }
    for (unsigned char c : host)
        if (c <= ' ' || c >= 0x7f || c == '/' || c == '@' || c == '[' || c == ']') return false;
    if (port.empty() || port.size() > 5) return false;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size()) return false;
    return value <= 65535 && (value > 0 || allow_port_zero);
}

problem check_listen(std::string_view v) {
    if (is_host_port(v, true)) return std::nullopt;
    return "must be HOST:PORT with a port between 0 and 65535, got " + quote(v);
}

// [http] listen: HOST:PORT, HOST:FIRST-LAST, "off", or empty (the role's default).
problem check_http_listen(std::string_view v) {
    if (v.empty() || v == "off" || is_host_port(v, true)) return std::nullopt;
    const auto colon = v.rfind(':'), dash = v.rfind('-');
    if (colon != std::string_view::npos && dash != std::string_view::npos && dash > colon) {
        const std::string first(v.substr(0, dash));
        const auto last = v.substr(dash + 1);
        unsigned lo = 0, hi = 0;
        auto [e1, c1] = std::from_chars(v.data() + colon + 1, v.data() + dash, lo);
        auto [e2, c2] = std::from_chars(last.data(), last.data() + last.size(), hi);
        if (is_host_port(first, false) && c1 == std::errc{} && c2 == std::errc{} && e2 == last.data() + last.size() &&
            !last.empty() && hi <= 65535 && lo <= hi)
            return std::nullopt;
    }
    return "must be HOST:PORT, HOST:FIRST-LAST (ports 1-65535, FIRST <= LAST) or \"off\", got " + quote(v);
}

problem check_server(std::string_view v) {
    if (is_host_port(v, false)) return std::nullopt;
    return "must be HOST:PORT with a port between 1 and 65535, got " + quote(v);
}

constexpr double max_seconds = 86400;

const std::vector<key_spec>& table() {
    static const std::vector<key_spec> t = {
        text<&settings::amqp, &amqp_settings::url>("amqp", "url", check_amqp_url),
        text<&settings::amqp, &amqp_settings::password_file>("amqp", "password_file", check_path),
        text<&settings::amqp, &amqp_settings::queue>("amqp", "queue", check_queue),
        text<&settings::amqp, &amqp_settings::queue_type>("amqp", "queue_type", check_queue_type),
        // amqp.urls (a list) has no row here: parse.cpp and amqp_urls.cpp read and check it.
        text<&settings::amqp, &amqp_settings::failover>("amqp", "failover", check_failover),
        integer<&settings::amqp, &amqp_settings::connect_timeout_ms>("amqp", "connect_timeout_ms", 100, 600000),
        integer<&settings::amqp, &amqp_settings::heartbeat_s>("amqp", "heartbeat_s", 0, 3600),
        integer<&settings::amqp, &amqp_settings::quorum_group_size>("amqp", "quorum_group_size", 1, 99),
        integer<&settings::amqp, &amqp_settings::delivery_limit>("amqp", "delivery_limit", 2, 1000),
        integer<&settings::amqp, &amqp_settings::max_length>("amqp", "max_length", 1, 1000000000000),
        integer<&settings::amqp, &amqp_settings::consumer_timeout_s>("amqp", "consumer_timeout_s", 60, 604800),
        text<&settings::serve, &serve_settings::listen>("serve", "listen", check_listen),
        integer<&settings::serve, &serve_settings::max_request_bytes>(
            "serve", "max_request_bytes", 64, 67108864),
        integer<&settings::serve, &serve_settings::max_connections>("serve", "max_connections",
                                                                    1, 1000000),
        integer<&settings::serve, &serve_settings::idle_timeout_s>("serve", "idle_timeout_s", 1,
                                                                   86400),
        integer<&settings::serve, &serve_settings::confirm_timeout_ms>(
            "serve", "confirm_timeout_ms", 100, 600000),
        integer<&settings::serve, &serve_settings::max_unconfirmed>("serve", "max_unconfirmed",
                                                                    1, 1000000),
        integer<&settings::serve, &serve_settings::max_pipelined>("serve", "max_pipelined", 1,
                                                                  65536),
        integer<&settings::serve, &serve_settings::shutdown_grace_s>("serve",
                                                                     "shutdown_grace_s", 0, 3600),
        integer<&settings::serve, &serve_settings::max_unsent_reply_bytes>(
            "serve", "max_unsent_reply_bytes", 4096, 1073741824),
        integer<&settings::serve, &serve_settings::write_timeout_s>("serve", "write_timeout_s", 1,
                                                                    86400),
        integer<&settings::serve, &serve_settings::request_timeout_s>("serve",
                                                                      "request_timeout_s", 1, 86400),
        integer<&settings::serve, &serve_settings::max_connections_per_address>(
            "serve", "max_connections_per_address", 1, 1000000),
        integer<&settings::work, &work_settings::prefetch>("work", "prefetch", 1, 65535),
        integer<&settings::work, &work_settings::concurrency>("work", "concurrency", 1, 1024),
        integer<&settings::work, &work_settings::shutdown_grace_s>("work", "shutdown_grace_s", 0,
                                                                   3600),
        integer<&settings::work, &work_settings::consumer_watchdog_s>("work", "consumer_watchdog_s", 0, 86400),
        text<&settings::store, &store_settings::uri>("store", "uri", check_store_uri),
        text<&settings::store, &store_settings::password_file>("store", "password_file", check_path),
        text<&settings::store, &store_settings::s3_access_key_id>("store", "s3_access_key_id", check_credential),
        text<&settings::store, &store_settings::s3_secret_access_key>("store", "s3_secret_access_key",
                                                                      check_credential),
        text<&settings::store, &store_settings::s3_session_token>("store", "s3_session_token", check_credential),
        integer<&settings::retry, &retry_settings::max_attempts>("retry", "max_attempts", 1,
                                                                 max_attempts_ceiling),
        integer<&settings::retry, &retry_settings::max_attempts_limit>(
            "retry", "max_attempts_limit", 1, max_attempts_ceiling),
        number<&settings::retry, &retry_settings::backoff_base_s>("retry", "backoff_base_s", 0,
                                                                  true, max_seconds),
        number<&settings::retry, &retry_settings::backoff_factor>("retry", "backoff_factor", 1,
                                                                  false, 100),
        number<&settings::retry, &retry_settings::backoff_max_s>("retry", "backoff_max_s", 0,
                                                                 true, max_seconds),
        number<&settings::retry, &retry_settings::jitter>("retry", "jitter", 0, false, 1),
        integer<&settings::amqp, &amqp_settings::max_priority>("amqp", "max_priority", 0, 10),
        integer<&settings::schedule, &schedule_settings::unit_ms>("schedule", "unit_ms", 1, 60000),
        integer<&settings::schedule, &schedule_settings::max_delay_s>("schedule", "max_delay_s", 0, 4000000),
        integer<&settings::cancel, &cancel_settings::grace_s>("cancel", "grace_s", 0, 3600),
        integer<&settings::cancel, &cancel_settings::max_pending>("cancel", "max_pending", 1, 10000000),
        integer<&settings::cancel, &cancel_settings::remember_ids>("cancel", "remember_ids", 0, 100000000),
        text<&settings::send, &send_settings::server>("send", "server", check_server),
        text<&settings::send, &send_settings::type>("send", "type", check_type),
        text<&settings::http, &http_settings::listen>("http", "listen", check_http_listen),
        integer<&settings::http, &http_settings::type_label_limit>("http", "type_label_limit", 1, 10000),
        integer<&settings::http, &http_settings::store_check_s>("http", "store_check_s", 1, 3600),
        integer<&settings::http, &http_settings::queue_check_s>("http", "queue_check_s", 1, 3600),
        integer<&settings::http, &http_settings::heartbeat_s>("http", "heartbeat_s", 0, 3600),
    };
    return t;
}

constexpr std::array<std::string_view, 3> handler_key_names{"command", "timeout_s", "env"};

// The worker's own variables: its broker URL, password files, store and cloud credentials.
constexpr std::string_view worker_own_prefixes[] = {"PFO3_", "AWS_", "PG"};

bool is_variable_name(std::string_view v) noexcept {
    if (v.empty() || (v.front() >= '0' && v.front() <= '9')) return false;
    return std::all_of(v.begin(), v.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                               diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string key_spec::dotted() const {
    std::string out(section);
    out += '.';
    out += name;
    return out;
}

std::span<const key_spec> keys() { return table(); }

const key_spec* find_key(std::string_view section, std::string_view name) {
    for (const auto& k : table())
        if (k.section == section && k.name == name) return &k;
    return nullptr;
}

bool is_section(std::string_view name) {
    if (name == "handlers") return true;
    return std::any_of(table().begin(), table().end(),
                       [&](const key_spec& k) { return k.section == name; });
}

problem check(const integer_rule& r, std::int64_t v) {
    if (v >= r.min && v <= r.max) return std::nullopt;
    return "must be between " + std::to_string(r.min) + " and " + std::to_string(r.max) +
           ", got " + std::to_string(v);
}

problem check(const number_rule& r, double v) {
    bool above_min = r.min_exclusive ? v > r.min : v >= r.min;
    if (above_min && v <= r.max) return std::nullopt;  // false for NaN
    if (r.min_exclusive)
        return "must be greater than " + format_number(r.min) + " and at most " +
               format_number(r.max) + ", got " + format_number(v);
    return "must be between " + format_number(r.min) + " and " + format_number(r.max) +
           ", got " + format_number(v);
}

problem check_current(const key_spec& k, const settings& s) {
    return std::visit(
        [&](const auto& r) -> problem {
            using rule = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<rule, text_rule>)
                return r.check(r.get(s));
            else
                return check(r, r.get(s));
        },
        k.rule);
}

problem set_from_text(const key_spec& k, settings& s, std::string_view text) {
    const char* first = text.data();
    const char* last = text.data() + text.size();
    if (const auto* r = std::get_if<integer_rule>(&k.rule)) {
        std::int64_t v = 0;
        auto [end, ec] = std::from_chars(first, last, v);
        if (ec == std::errc::result_out_of_range && end == last)
            return "must be between " + std::to_string(r->min) + " and " +
                   std::to_string(r->max) + ", got " + std::string(text);
        if (ec != std::errc{} || end != last || text.empty())
            return "must be an integer, got " + quote(text);
        if (auto p = check(*r, v)) return p;
        r->set(s, v);
        return std::nullopt;
    }
    if (const auto* r = std::get_if<number_rule>(&k.rule)) {
        double v = 0;
        auto [end, ec] = std::from_chars(first, last, v);
        if (ec != std::errc{} || end != last || text.empty())
            return "must be a number, got " + quote(text);
        if (auto p = check(*r, v)) return p;
        r->set(s, v);
        return std::nullopt;
    }
    const auto& r = std::get<text_rule>(k.rule);
    if (auto p = r.check(text)) return p;
    r.set(s, std::string(text));
    return std::nullopt;
}

problem check_backoff_max(const retry_settings& r) {
    if (r.backoff_max_s >= r.backoff_base_s) return std::nullopt;
    return "must be at least retry.backoff_base_s (" + format_number(r.backoff_base_s) +
           "), got " + format_number(r.backoff_max_s);
}

problem check_backoff_base(const retry_settings& r) {
    if (r.backoff_max_s >= r.backoff_base_s) return std::nullopt;
    return "must be at most retry.backoff_max_s (" + format_number(r.backoff_max_s) +
           "), got " + format_number(r.backoff_base_s);
}

problem check_attempts_within_limit(const retry_settings& r) {
    if (r.max_attempts <= r.max_attempts_limit) return std::nullopt;
    return "must be at most retry.max_attempts_limit (" + std::to_string(r.max_attempts_limit) +
           "), got " + std::to_string(r.max_attempts);
}

problem check_attempts_limit_covers(const retry_settings& r) {
    if (r.max_attempts <= r.max_attempts_limit) return std::nullopt;
    return "must be at least retry.max_attempts (" + std::to_string(r.max_attempts) + "), got " +
           std::to_string(r.max_attempts_limit);
}

problem check_max_priority(const amqp_settings& a) {
    if (a.max_priority == 0) return std::nullopt;
    if (a.queue == "tareas")
        return "cannot be used with the teaching queue \"tareas\" (its programs declare it without "
               "x-max-priority, and RabbitMQ refuses a queue declared twice with different arguments); "
               "set amqp.queue to another name";
    if (a.queue_type == "quorum") return "cannot be used with quorum queues (RabbitMQ before 4.0 has no priorities there)";
    return std::nullopt;
}

problem check_s3_pair(const store_settings& st) {
    bool has_id = !st.s3_access_key_id.empty();
    bool has_secret = !st.s3_secret_access_key.empty();
    if (has_id == has_secret && (has_id || st.s3_session_token.empty())) return std::nullopt;
    return "store.s3_access_key_id and store.s3_secret_access_key go together (a session token needs "
           "both): set both or neither";
}

problem check_handler_name(std::string_view name) {
    if (is_name(name, 128)) return std::nullopt;
    return "a handler name must be 1 to 128 characters of [A-Za-z0-9._:-], got " + quote(name);
}

problem check_handler_command(const std::vector<std::string>& command) {
    if (command.empty()) return "must not be empty: give the program and its arguments";
    for (std::size_t i = 0; i < command.size(); ++i)
        if (command[i].find('\0') != std::string::npos)
            return "element " + std::to_string(i + 1) + " contains a NUL character";
    const auto& program = command.front();
    // A relative path with a slash would depend on the worker's working directory.
    bool absolute = program.size() > 1 && program.front() == '/';
    bool bare_name = !program.empty() && program.find('/') == std::string::npos;
    if (absolute || bare_name) return std::nullopt;
    return "the program (first element) must be an absolute path or a name looked up in PATH, "
           "got " +
           quote(program);
}

problem check_handler_env(const std::vector<std::string>& env) {
    for (std::size_t i = 0; i < env.size(); ++i) {
        const std::string element = "element " + std::to_string(i + 1);
        std::string_view entry = env[i];
        if (entry.find('\0') != std::string_view::npos) return element + " contains a NUL character";
        const auto eq = entry.find('=');
        const auto name = entry.substr(0, eq);
        if (!is_variable_name(name))
            return element + " must be NAME or NAME=VALUE with NAME of [A-Za-z0-9_] not starting with a digit, got " +
                   quote(name);
        if (eq != std::string_view::npos) continue;  // an explicit value is the operator's choice
        for (auto prefix : worker_own_prefixes)
            if (name.starts_with(prefix))
                return element + " names the worker's own " + std::string(prefix) +
                       "* variable " + quote(name) +
                       ", which is never passed on (it may hold a secret); give the handler its own value "
                       "with NAME=VALUE";
    }
    return std::nullopt;
}

problem check_handler_timeout(double seconds) {
    return check(number_rule{nullptr, nullptr, 0, true, max_seconds}, seconds);
}

std::span<const std::string_view> handler_keys() { return handler_key_names; }

std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
    std::optional<std::string_view> best;
    std::size_t best_distance = 0;
    for (auto c : candidates) {
        auto d = edit_distance(word, c);
        if (!best || d < best_distance) {
            best = c;
            best_distance = d;
        }
    }
    // Only an obvious typo: a couple of edits, and fewer than half the word changed.
    if (best && best_distance <= 2 && best_distance * 2 < std::max(word.size(), best->size()))
        return best;
    return std::nullopt;
}

std::string quote(std::string_view word) {
    constexpr std::size_t max_shown = 80;
    std::string out = "\"";
    for (std::size_t i = 0; i < word.size() && i < max_shown; ++i) {
        auto c = static_cast<unsigned char>(word[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (word.size() > max_shown) out += "...";
    out += '"';
    return out;
}

std::string format_number(double v) {
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    if (ec != std::errc{}) return "?";
    return std::string(buf.data(), end);
}

}  // namespace pfo3::config::detail
