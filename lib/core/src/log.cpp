#include "pfo3/core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <string>

#include "pfo3/core/clock.hpp"
#include "pfo3/core/url.hpp"

namespace pfo3::log {

namespace {

std::atomic<level> threshold_{level::info};
std::atomic<format> format_{format::text};
std::string role_;  // written once at start-up, before other threads

constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error", "off"};

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                static constexpr char hex[] = "0123456789abcdef";
                out += "\\u00";
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 0xf]);
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
    }
    out.push_back('"');
}

// Text values are quoted only when they would be ambiguous (spaces, quotes, '=').
void append_text_value(std::string& out, std::string_view v) {
    bool plain = !v.empty() && v.find_first_of(" \"=\n\t") == std::string_view::npos;
    if (plain) out.append(v);
    else append_json_string(out, v);
}

}  // namespace

void configure(level t, format f) {
    threshold_.store(t);
    format_.store(f);
}

bool parse_level(std::string_view s, level& out) noexcept {
    for (std::size_t i = 0; i + 1 < std::size(names); ++i)
        if (names[i] == s) {
            out = static_cast<level>(i);
            return true;
        }
    return false;
}

bool parse_format(std::string_view s, format& out) noexcept {
    if (s == "text") out = format::text;
    else if (s == "json") out = format::json;
    else return false;
    return true;
}

void set_role(std::string_view role) { role_ = role; }

bool enabled(level l) noexcept { return l >= threshold_.load(std::memory_order_relaxed) && l != level::off; }

void write(level l, std::string_view message, std::initializer_list<field> fields) {
    std::string line;
    line.reserve(128 + message.size());
    auto lvl = names[static_cast<int>(l)];
    if (format_.load(std::memory_order_relaxed) == format::json) {
        line += "{\"time\":";
        append_json_string(line, rfc3339_now());
        line += ",\"level\":";
        append_json_string(line, lvl);
        if (!role_.empty()) {
            line += ",\"role\":";
            append_json_string(line, role_);
        }
        line += ",\"msg\":";
        append_json_string(line, message);
        for (const auto& f : fields) {
            line.push_back(',');
            append_json_string(line, f.key);
            line.push_back(':');
            append_json_string(line, f.value);
        }
        line += "}\n";
    } else {
        line += rfc3339_now();
        line.push_back(' ');
        line += lvl;
        for (std::size_t i = lvl.size(); i < 5; ++i) line.push_back(' ');
        if (!role_.empty()) {
            line += " [";
            line += role_;
            line += "]";
        }
        line.push_back(' ');
        line += message;
        for (const auto& f : fields) {
            line.push_back(' ');
            line += f.key;
            line.push_back('=');
            append_text_value(line, f.value);
        }
        line.push_back('\n');
    }
    // One write per line: atomic for pipes up to PIPE_BUF, and never interleaved mid-line by
    // our own threads for anything shorter. A failed log write has nowhere to be reported.
    std::size_t off = 0;
    while (off < line.size()) {
        ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
    }
}

std::string mask_url(std::string_view url) {
    const auto u = find_userinfo(url);
    if (!u || !u->has_password) return std::string(url);
    std::string out(url.substr(0, u->password_begin));
    out += "***";
    out += url.substr(u->password_end);
    return out;
}

}  // namespace pfo3::log
