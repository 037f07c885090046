#include "pfo3/sight/throughput.hpp"

namespace pfo3::sight {

namespace {

std::int64_t minute_of(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::minutes>(t.time_since_epoch()).count();
}

}  // namespace

void throughput::add(series s, std::uint64_t n, std::chrono::system_clock::time_point now) {
    if (n == 0) return;
    const auto m = minute_of(now);
    std::lock_guard lk(mu_);
    auto& slot = ring_[static_cast<std::size_t>(m % static_cast<std::int64_t>(minutes))];
    if (slot.minute != m) slot = {m, {}};
    slot.counts[static_cast<std::size_t>(s)] += n;
}

std::string throughput::json(std::chrono::system_clock::time_point now) const {
    const auto last = minute_of(now);
    std::array<std::array<std::uint64_t, minutes>, 4> cols{};
    {
        std::lock_guard lk(mu_);
        for (std::size_t i = 0; i < minutes; ++i) {
            const auto m = last - static_cast<std::int64_t>(minutes - 1 - i);
            const auto& slot = ring_[static_cast<std::size_t>(m % static_cast<std::int64_t>(minutes))];
            if (slot.minute == m)
                for (std::size_t c = 0; c < 4; ++c) cols[c][i] = slot.counts[c];
        }
    }
    static constexpr const char* names[4] = {"accepted", "done", "retried", "dead"};
    std::string out = "{\"minute_s\":60,\"until\":" + std::to_string((last + 1) * 60);
    std::string totals = ",\"totals\":{";
    for (std::size_t c = 0; c < 4; ++c) {
        std::uint64_t sum = 0;
        out += ",\"" + std::string(names[c]) + "\":[";
        for (std::size_t i = 0; i < minutes; ++i) {
            out += (i ? "," : "") + std::to_string(cols[c][i]);
            sum += cols[c][i];
        }
        out += "]";
        totals += (c ? ",\"" : "\"") + std::string(names[c]) + "\":" + std::to_string(sum);
    }
    return out + totals + "}}";
}

}  // namespace pfo3::sight
