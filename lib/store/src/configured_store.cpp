#include "pfo3/store/configured_store.hpp"

#include <sys/stat.h>

#include <atomic>

#include "pfo3/core/log.hpp"
#include "s3_keys.hpp"

namespace pfo3::store {

namespace {

// Like ssh with a private key: a secret in a file others can read is worth a warning, not a
// refusal (the operator may have reasons, e.g. a group that runs only pfo3).
void warn_if_readable(const config::settings& s) {
    static std::atomic<bool> warned{false};
    if (s.store.s3_secret_access_key.empty() && s.store.s3_session_token.empty()) return;
    struct stat st {};
    if (::stat(s.source.c_str(), &st) != 0 || (st.st_mode & (S_IRGRP | S_IROTH)) == 0) return;
    if (warned.exchange(true)) return;
    PFO3_LOG(warn, "the config file holds an S3 secret and group or others may read it; chmod 600 it",
             {{"config", s.source}});
}

}  // namespace

std::unique_ptr<result_store> open_configured_store(const config::settings& s, store_use use) {
    warn_if_readable(s);
    if (is_s3_uri(s.store.uri))
        return open_s3_store(s.store.uri,
                             {s.store.s3_access_key_id, s.store.s3_secret_access_key, s.store.s3_session_token});
    return open_store(s.store.uri, use);
}

}  // namespace pfo3::store
