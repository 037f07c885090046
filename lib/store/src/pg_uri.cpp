#include "pg_uri.hpp"

#include "pfo3/core/log.hpp"

namespace pfo3::store {

bool is_postgres_uri(std::string_view uri) noexcept {
    return uri.starts_with("postgresql://") || uri.starts_with("postgres://");
}

std::string mask_postgres_uri(std::string_view uri) {
    std::string out = log::mask_url(uri);
    // libpq also takes the password as a query parameter (?password=…&…).
    auto query = out.find('?');
    if (query == std::string::npos) return out;
    constexpr std::string_view key = "password=";
    std::size_t at = query + 1;
    while (at < out.size()) {
        auto end = out.find('&', at);
        if (end == std::string::npos) end = out.size();
        if (std::string_view(out).substr(at, end - at).starts_with(key)) {
            out.replace(at + key.size(), end - at - key.size(), "***");
            end = at + key.size() + 3;
        }
        at = end + 1;
    }
    return out;
}

}  // namespace pfo3::store
