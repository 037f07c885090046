#include "pfo3/store/result_store.hpp"

#include "file_store.hpp"
#include "pfo3/core/error.hpp"
#include "pfo3/core/log.hpp"
#include "s3_keys.hpp"
#include "pg_uri.hpp"
#include "postgres_store.hpp"
#include "sqlite_store.hpp"

namespace pfo3::store {

std::unique_ptr<result_store> open_store(std::string_view uri, store_use use) {
    constexpr std::string_view file_scheme = "file://";
    if (uri.starts_with(file_scheme)) {
        auto path = uri.substr(file_scheme.size());
        if (path.empty() || path.front() != '/')
            throw config_error("store URI '" + log::mask_url(uri) +
                               "' must name an absolute directory: file:///DIR");
        return std::make_unique<file_store>(std::string(path));
    }
    if (uri.starts_with("sqlite:")) {
        sqlite_store::options opts;
        opts.read_only = use == store_use::read;
        return std::make_unique<sqlite_store>(sqlite_path_of(uri), opts);
    }
    if (is_postgres_uri(uri)) return std::make_unique<postgres_store>(std::string(uri));
    if (is_s3_uri(uri)) return open_s3_store(uri, {});
    throw config_error("store URI '" + log::mask_url(uri) +
                       "' is not supported: use sqlite:///DIR/FILE.db, file:///DIR, postgresql://… or s3://…");
}

}  // namespace pfo3::store
