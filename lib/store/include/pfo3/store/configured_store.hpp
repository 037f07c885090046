#pragma once
// Opening the configured result store, for the roles that need one (work writes, serve reads
// status): the URI plus the S3 credentials the config may hold.
#include <memory>

#include "pfo3/config/settings.hpp"
#include "pfo3/store/result_store.hpp"

namespace pfo3::store {

/// open_store(s.store.uri, use); for an s3:// URI the S3 store with the config's S3 keys. The
/// first time a secret comes from a config file that group or others may read, logs a warning
/// naming the file (never the value). Throws what open_store throws.
std::unique_ptr<result_store> open_configured_store(const config::settings& s, store_use use = store_use::write);

}  // namespace pfo3::store
