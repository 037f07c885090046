#pragma once
// Where workers put results and serve reads them (SPEC 7).
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pfo3/core/task.hpp"

namespace pfo3::store {

/// A cancel a worker must remember (issue 16): a record in `cancel_requested`.
struct pending_cancel {
    std::string id;
    std::string why;  ///< the record's error: "cancel requested: <reason>"
};

/// A durable result store. write() returns only once every record is durable (so the caller
/// may ack); a write of an existing id replaces it (upsert), so redelivery stores once.
/// Implementations are thread-safe unless they say otherwise.
class result_store {
public:
    virtual ~result_store() = default;
    /// Stores all records durably, as one group where the store allows (one fsync barrier,
    /// one transaction). Throws service_error; retryable() tells whether trying again may work.
    virtual void write(std::span<const task_record> records) = 0;
    /// The record for `id`, or nullopt if none is stored. Throws service_error.
    virtual std::optional<task_record> read(std::string_view id) = 0;
    /// The records in `cancel_requested`, at most `limit` of them (which ones past it is not
    /// said), for a worker's set of pending cancels (decision 0015). Throws service_error.
    virtual std::vector<pending_cancel> pending_cancels(std::size_t limit) = 0;
    /// The store for logs, secrets masked ("file:///var/lib/pfo3/results").
    virtual std::string describe() const = 0;
};

/// What a handle is for: workers write results, serve reads `status` (and opens a second
/// handle for writing only when it stores a delayed task's `scheduled` record). A reader may
/// open more lightly (SQLite: read-only, never creating the file).
enum class store_use { write, read };

/// Opens the store named by a URI: file:///DIR (created if missing), sqlite:///DIR/FILE.db
/// (DIR must exist), postgresql://… (libpq URI), s3://BUCKET/PREFIX?endpoint=…&region=…
/// (credentials from the environment; configured_store.hpp adds the keys a config file holds). Throws
/// config_error for a URI it cannot use (or S3 without credentials), service_error if the
/// store is unusable.
std::unique_ptr<result_store> open_store(std::string_view uri, store_use use = store_use::write);

}  // namespace pfo3::store
