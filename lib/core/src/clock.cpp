#include "pfo3/core/clock.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace pfo3 {

namespace {

// Writes `v` as exactly `n` decimal digits ending just before `end`.
void put_digits(char* end, unsigned v, int n) noexcept {
    for (int i = 0; i < n; ++i, v /= 10) *--end = static_cast<char>('0' + v % 10);
}

// Year, month (1-12) and day (1-31) of a day count from 1970-01-01 in the proleptic
// Gregorian calendar (Howard Hinnant's civil_from_days).
void civil_from_days(std::int64_t days, std::int64_t& y, unsigned& m, unsigned& d) noexcept {
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto doe = static_cast<unsigned>(days - era * 146097);              // [0, 146096]
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              // [0, 365]
    const unsigned mp = (5 * doy + 2) / 153;                                   // [0, 11]
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

}  // namespace

// Formatted by hand: every record carries two of these and snprintf + gmtime_r cost ~3 % of a
// worker's CPU per task. Years outside 0000-9999 (never seen in practice) keep the printf form.
std::string to_rfc3339(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const std::int64_t ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    std::int64_t secs = ms / 1000;
    int frac = static_cast<int>(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        --secs;
    }
    std::int64_t days = secs / 86400;
    std::int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    std::int64_t year = 0;
    unsigned month = 0, day = 0;
    civil_from_days(days, year, month, day);
    if (year < 0 || year > 9999) {
        const auto s = static_cast<std::time_t>(secs);
        std::tm tm{};
        gmtime_r(&s, &tm);
        char buf[96];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
        return buf;
    }
    // "YYYY-MM-DDThh:mm:ss.fffZ"
    std::string out(24, '\0');
    char* p = out.data();
    put_digits(p + 4, static_cast<unsigned>(year), 4);
    p[4] = '-';
    put_digits(p + 7, month, 2);
    p[7] = '-';
    put_digits(p + 10, day, 2);
    p[10] = 'T';
    put_digits(p + 13, static_cast<unsigned>(rem / 3600), 2);
    p[13] = ':';
    put_digits(p + 16, static_cast<unsigned>(rem / 60 % 60), 2);
    p[16] = ':';
    put_digits(p + 19, static_cast<unsigned>(rem % 60), 2);
    p[19] = '.';
    put_digits(p + 23, static_cast<unsigned>(frac), 3);
    p[23] = 'Z';
    return out;
}

std::string rfc3339_now() { return to_rfc3339(std::chrono::system_clock::now()); }

namespace {

// `n` digits at `pos` as a number; -1 if they are not all digits or the text is short.
int digits(std::string_view s, std::size_t pos, std::size_t n) noexcept {
    if (pos + n > s.size()) return -1;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) noexcept {
    using namespace std::chrono;
    const int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
    const int h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2);
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return std::nullopt;
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return std::nullopt;
    const year_month_day date{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
    if (!date.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;  // 60: a leap second
    std::size_t pos = 19;
    milliseconds frac{0};
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        const std::size_t first = pos;
        int scale = 100;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            frac += milliseconds((s[pos] - '0') * scale);
            scale /= 10;
            ++pos;
        }
        if (pos == first) return std::nullopt;
    }
    minutes offset{0};
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        const int oh = digits(s, pos + 1, 2), om = digits(s, pos + 4, 2);
        if (oh < 0 || om < 0 || s[pos + 3] != ':' || oh > 23 || om > 59) return std::nullopt;
        offset = hours(oh) + minutes(om);
        if (s[pos] == '-') offset = -offset;
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    return sys_days(date) + hours(h) + minutes(mi) + seconds(sec) + frac - offset;
}

std::chrono::milliseconds ms_of_seconds(double seconds) noexcept {
    return std::chrono::milliseconds(std::llround(seconds * 1000));
}

std::optional<std::int64_t> parse_duration_s(std::string_view text) noexcept {
    std::size_t digits = 0;
    std::int64_t n = 0;
    while (digits < text.size() && digits < 9 && text[digits] >= '0' && text[digits] <= '9')
        n = n * 10 + (text[digits++] - '0');
    if (digits == 0) return std::nullopt;
    const std::string_view unit = text.substr(digits);
    if (unit.empty() || unit == "s") return n;
    if (unit == "m") return n * 60;
    if (unit == "h") return n * 3600;
    if (unit == "d") return n * 86400;
    return std::nullopt;
}

}  // namespace pfo3
