#pragma once
// Task ids: validation of client-supplied ids and generation of UUIDv7 ids.
#include <string>
#include <string_view>

namespace pfo3 {

/// True for 1-128 characters of [A-Za-z0-9._:-], not "." or "..". Such an id is safe to use
/// as a file name, an S3 key part and a SQL parameter.
bool is_valid_task_id(std::string_view id) noexcept;

/// A new RFC 9562 UUIDv7 in canonical lowercase text: ids made later sort later (millisecond
/// timestamp, then a per-thread counter); the random bits come from the kernel's CSPRNG
/// (getrandom), so ids cannot be predicted from earlier ones. Thread-safe; throws
/// std::system_error if the kernel gives no random bytes.
std::string make_task_id();

}  // namespace pfo3
