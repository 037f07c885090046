#pragma once
// The task ids this serve accepted lately (decision 0015): pfo3 writes no record for a task
// queued to run now, so a cancel of one can only be told from a cancel of an id nobody sent by
// remembering what was accepted. Kept as 64-bit hashes in two generations of open-addressed
// tables: at least the last capacity/2 and at most the last `capacity` ids are known, for 16
// bytes per id of capacity (pages are zeroed by the kernel as they are first touched). A hash
// collision makes an unknown id look accepted (odds about n / 2^64): its cancel then writes a
// cancel_requested record no task will settle, which is harmless. Thread-safe.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

namespace pfo3::serve {

class accepted_ids {
public:
    /// `capacity` 0: remembers nothing (contains() is always false).
    explicit accepted_ids(std::size_t capacity);
    accepted_ids(const accepted_ids&) = delete;
    accepted_ids& operator=(const accepted_ids&) = delete;

    /// Remembers `id`; the oldest generation is forgotten when the newest is full.
    void add(std::string_view id);
    /// True if `id` was added and not forgotten yet (or collides with one that was).
    bool contains(std::string_view id) const;

private:
    struct table {
        struct free_deleter {
            void operator()(std::uint64_t* p) const noexcept;
        };
        std::unique_ptr<std::uint64_t[], free_deleter> slots;  // 0: empty
        std::size_t mask = 0;
        std::size_t used = 0;
        void insert(std::uint64_t h) noexcept;
        bool find(std::uint64_t h) const noexcept;
        void clear() noexcept;
    };
    static std::uint64_t hash_of(std::string_view id) noexcept;

    std::size_t per_generation_ = 0;
    mutable std::mutex mu_;
    table current_, previous_;  // guarded by mu_
};

}  // namespace pfo3::serve
