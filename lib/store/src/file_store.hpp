#pragma once
// Results as one JSON file per task id in a directory (the default store). Private to the store
// module: open_store() makes it.
#include <string>
#include <vector>

#include "pfo3/store/result_store.hpp"

namespace pfo3::store {

/// How a record reaches its name; both are atomic and durable (docs/architecture.md).
enum class file_write_method {
    automatic,   ///< unnamed: O_TMPFILE + linkat where the file system has it, else named_temp
    unnamed,     ///< an O_TMPFILE inode, data flushed, then linked to ID.json (one directory op)
    named_temp,  ///< .ID.json~tmp~RANDOM, data flushed, then moved to ID.json (three)
};

/// DIR/ID.json, each written atomically: data flushed before any name points at it, then one
/// fsync of the directory per write() group. A record only replaces a stored one that
/// may_replace() allows; one of an older attempt, or any after a final record, is skipped.
/// Thread-safe (no shared mutable state besides the directory). Temp files carry '~' in
/// their names, which no task id has.
class file_store final : public result_store {
public:
    /// Creates `dir` (and parents) if missing; throws service_error if it is not writable.
    explicit file_store(std::string dir, file_write_method method = file_write_method::automatic);
    void write(std::span<const task_record> records) override;
    std::optional<task_record> read(std::string_view id) override;
    /// A scan of the directory (no index): reads every record file; decodes only those whose
    /// text holds the status.
    std::vector<pending_cancel> pending_cancels(std::size_t limit) override;
    std::string describe() const override;
    /// unnamed or named_temp: what `automatic` found this directory supports.
    file_write_method method() const noexcept { return method_; }

private:
    void write_unnamed(int dir_fd, std::span<const task_record* const> rows, const std::vector<std::string>& bodies);
    void write_named(int dir_fd, std::span<const task_record* const> rows, const std::vector<std::string>& bodies);

    std::string dir_;
    file_write_method method_;
};

}  // namespace pfo3::store
