#include "pfo3/core/error.hpp"

namespace pfo3 {

namespace {

struct entry {
    std::string_view code;
    std::string_view text;
};

// The one table of per-request outcomes: wire code and default human text.
constexpr entry table[] = {
    {"", ""},
    {"bad_json", "the request is not valid JSON"},
    {"bad_request", "the request is valid JSON but not a valid request"},
    {"line_too_long", "the request is larger than the server accepts"},
    {"unknown_op", "unknown op"},
    {"unauthorized", "missing or wrong credentials"},
    {"unavailable", "the broker did not confirm the task; it was NOT accepted, retry later"},
    {"overloaded", "too many unconfirmed tasks; it was NOT accepted, retry later"},
    {"too_late", "the task already ended; nothing was cancelled"},
    {"not_found", "no record of this task: unknown, or queued to run now (only tasks with a record can be cancelled)"},
    {"forbidden", "the principal may not do this"},
    {"tls_required", "this port requires TLS"},
};

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "pfo3.request"; }
    std::string message(int v) const override {
        return std::string(default_message(static_cast<request_error>(v)));
    }
};

const entry& lookup(request_error e) noexcept {
    auto i = static_cast<std::size_t>(e);
    return i < std::size(table) ? table[i] : table[0];
}

}  // namespace

std::string_view wire_code(request_error e) noexcept { return lookup(e).code; }
std::string_view default_message(request_error e) noexcept { return lookup(e).text; }

const std::error_category& request_category() noexcept {
    static const category c;
    return c;
}

}  // namespace pfo3
