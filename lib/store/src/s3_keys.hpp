#pragma once
// Opening an S3 result store with access keys a config file holds ([store] s3_*). Only
// configured_store.cpp (open_configured_store) needs this header; every other caller opens stores by
// URI alone through open_store() (result_store.hpp), which takes S3 keys from the environment.
#include <memory>
#include <string>
#include <string_view>

#include "pfo3/store/result_store.hpp"

namespace pfo3::store {

/// S3 credentials from the config file. Never logged, never part of a message.
struct s3_config_keys {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;
};

/// True for an s3:// URI (the scheme only; open_s3_store checks the rest).
bool is_s3_uri(std::string_view uri) noexcept;

/// Opens the S3 store s3://BUCKET/PREFIX?endpoint=…&region=… like open_store(uri), with `keys`
/// used when the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) sets
/// no key pair: the environment wins. Throws config_error for a URI it cannot use or no
/// credentials from either, service_error if the bucket cannot be written.
std::unique_ptr<result_store> open_s3_store(std::string_view uri, const s3_config_keys& keys);

}  // namespace pfo3::store
