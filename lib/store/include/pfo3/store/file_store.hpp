#pragma once
// Results as one JSON file per task id in a directory (the default store).
#include <string>

#include "pfo3/store/result_store.hpp"

namespace pfo3::store {

/// DIR/ID.json, each written atomically: temp file, fsync, rename, then one fsync of the
/// directory per write() group. Thread-safe (no shared mutable state besides the directory).
class file_store final : public result_store {
public:
    /// Creates `dir` (and parents) if missing; throws service_error if it is not writable.
    explicit file_store(std::string dir);
    void write(std::span<const task_record> records) override;
    std::optional<task_record> read(std::string_view id) override;
    std::string describe() const override;

private:
    std::string dir_;
};

}  // namespace pfo3::store
