#include "pfo3/core/task_id.hpp"

#include <sys/random.h>

#include <chrono>
#include <cstdint>
#include <random>

namespace pfo3 {

bool is_valid_task_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

namespace {

std::uint64_t seed_from_kernel() {
    std::uint64_t s = 0;
    // getrandom never fails for 8 bytes once the pool is initialised; fall back to the clock
    // rather than abort, since ids only need uniqueness, not secrecy.
    if (getrandom(&s, sizeof s, 0) != static_cast<ssize_t>(sizeof s))
        s = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return s;
}

struct generator {
    std::mt19937_64 rng{seed_from_kernel()};
    std::uint64_t last_ms = 0;
    std::uint16_t counter = 0;  // 12-bit rand_a used as a counter within one millisecond
};

}  // namespace

std::string make_task_id() {
    thread_local generator g;
    auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    if (ms > g.last_ms) {
        g.last_ms = ms;
        g.counter = static_cast<std::uint16_t>(g.rng() & 0x3ff);  // leave room to count up
    } else {
        ms = g.last_ms;  // clock went back or same ms: keep order with the counter
        if (++g.counter > 0xfff) {
            ++g.last_ms;
            ms = g.last_ms;
            g.counter = 0;
        }
    }
    unsigned char b[16];
    for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
    b[6] = static_cast<unsigned char>(0x70 | ((g.counter >> 8) & 0x0f));
    b[7] = static_cast<unsigned char>(g.counter & 0xff);
    std::uint64_t r = g.rng();
    for (int i = 8; i < 16; ++i) b[i] = static_cast<unsigned char>(r >> (8 * (i - 8)));
    b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));

    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(hex[b[i] >> 4]);
        out.push_back(hex[b[i] & 0x0f]);
    }
    return out;
}

}  // namespace pfo3
