#include "pfo3/store/result_store.hpp"

#include "file_store.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "pg_uri.hpp"
#include "postgres_store.hpp"
#include "s3_store.hpp"

namespace pfo3::store {

std::unique_ptr<result_store> open_store(std::string_view uri, const s3_config_keys& s3_keys) {
    constexpr std::string_view file_scheme = "file://";
    if (uri.starts_with(file_scheme)) {
        auto path = uri.substr(file_scheme.size());
        if (path.empty() || path.front() != '/')
            throw config_error("store URI '" + log::mask_url(uri) +
                               "' must name an absolute directory: file:///DIR");
        return std::make_unique<file_store>(std::string(path));
    }
    if (is_postgres_uri(uri)) return std::make_unique<postgres_store>(std::string(uri));
    if (uri.starts_with("s3://"))
        return std::make_unique<s3_store>(s3_location::parse(uri), s3_credentials::resolve(s3_keys));
    throw config_error("store URI '" + log::mask_url(uri) +
                       "' is not supported: use file:///DIR");
}

}  // namespace pfo3::store
