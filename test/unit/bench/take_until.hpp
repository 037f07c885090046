#pragma once
// Collecting a result watch's events in the tests of the watches.
#include <chrono>
#include <thread>
#include <vector>

#include "result_watch.hpp"

namespace pfo3::bench::test {

/// take() until `want` ids arrived or 10 s passed (the watch thread stamps them on arrival).
inline std::vector<stored_event> take_until(result_watch& w, std::size_t want) {
    std::vector<stored_event> got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
        for (auto& e : w.take()) got.push_back(std::move(e));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return got;
}

}  // namespace pfo3::bench::test
