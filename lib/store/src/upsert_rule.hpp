#pragma once
// The SQL stores' upsert rule, written out from pfo3::may_replace() so that SQL and C++ never
// differ, and the text repair both SQL stores apply. Private to the store module.
#include <string>
#include <string_view>

namespace pfo3::store {

/// " WHERE …" for `INSERT INTO pfo3_tasks … ON CONFLICT (id) DO UPDATE SET … WHERE …`: the
/// update happens only where may_replace(stored row, EXCLUDED row) holds. Standard SQL with
/// row values, which PostgreSQL and SQLite (3.24 and later) both run. Throws std::logic_error
/// if may_replace() has changed in a way this generator cannot express.
const std::string& may_replace_where();

/// Whether `s` can go into a SQL text column as it is: valid UTF-8 without NUL bytes.
bool is_storable_text(std::string_view s) noexcept;
/// `s` with invalid UTF-8 and NUL bytes replaced by U+FFFD, the way the file store's JSON
/// encoder repairs text.
std::string storable_text(std::string_view s);

}  // namespace pfo3::store
