#include "pfo3/core/task_id.hpp"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <system_error>

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

// Random bytes from the kernel's CSPRNG, so an id gives nothing away about the ids made before
// or after it (a seeded mt19937_64 does: its state can be recovered from its output).
void fill_random(unsigned char* out, std::size_t n) {
    while (n > 0) {
        const ssize_t got = getrandom(out, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom for a task id");
        }
        out += got;
        n -= static_cast<std::size_t>(got);
    }
}

// Per thread: ids made by one thread sort in the order they were made.
struct order {
    std::uint64_t last_ms = 0;
    std::uint16_t counter = 0;  // 12-bit rand_a used as a counter within one millisecond
};

}  // namespace

std::string make_task_id() {
    thread_local order g;
    // One read per id: 2 bytes start the counter in a new millisecond, 8 fill rand_b.
    unsigned char random[10];
    fill_random(random, sizeof random);
    auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    if (ms > g.last_ms) {
        g.last_ms = ms;
        g.counter = static_cast<std::uint16_t>((random[0] | (random[1] << 8)) & 0x3ff);  // leave room to count up
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
    for (int i = 8; i < 16; ++i) b[i] = random[i - 6];
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
