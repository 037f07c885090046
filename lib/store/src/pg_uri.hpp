#pragma once
// PostgreSQL connection URIs as pfo3 sees them: recognising one and masking its secrets. Private
// to the store module.
#include <string>
#include <string_view>

namespace pfo3::store {

/// True for a libpq connection URI (postgresql://… or postgres://…).
bool is_postgres_uri(std::string_view uri) noexcept;

/// The URI with its password replaced by "***", both the user:password@ form and a
/// `password=` query parameter, for logs and error messages.
std::string mask_postgres_uri(std::string_view uri);

}  // namespace pfo3::store
