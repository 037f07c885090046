#include "builtins.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <thread>

#include "pfo3/json/value.hpp"

namespace pfo3::handlers::detail {

namespace {

constexpr std::int64_t max_sleep_ms = 3'600'000;

outcome permanent(std::string why) {
    outcome o;
    o.status = outcome::kind::permanent;
    o.result_json = "null";
    o.error = std::move(why);
    return o;
}

outcome done(std::string result_json) {
    outcome o;
    o.result_json = std::move(result_json);
    return o;
}

// The payload as pfo3 reads every JSON text; nullopt (and why) if it is not one.
std::optional<json::document> parse(const std::string& payload, std::string& why) {
    std::optional<json::document> d = json::parse(payload, why);
    if (!d) why = "payload is not valid JSON: " + why;
    return d;
}

outcome failed(std::string why) {
    outcome o;
    o.status = outcome::kind::failed;
    o.result_json = "null";
    o.error = std::move(why);
    return o;
}

outcome echo(const std::string& payload, std::chrono::milliseconds) { return done(payload); }

// sum and multiply: exact int64 arithmetic while every element is an integer and nothing
// overflows, so [1,2] gives 3 and not 3.0; otherwise the double result.
outcome fold(const std::string& payload, bool multiply) {
    const char* name = multiply ? "multiply" : "sum";
    std::string why;
    const std::optional<json::document> doc = parse(payload, why);
    if (!doc) return permanent(std::string(name) + ": " + why);
    const json::value d = doc->root();
    if (!d.is(json::kind::array))
        return permanent(std::string(name) + " expects a JSON array of numbers, got " +
                         std::string(d.kind_name()));

    std::int64_t exact = multiply ? 1 : 0;
    bool integral = true;
    for (std::size_t i = 0; i < d.size(); ++i) {
        const json::value v = d[i];
        if (!v.is(json::kind::number))
            return permanent(std::string(name) + " expects a JSON array of numbers, element " +
                             std::to_string(i) + " is " + std::string(v.kind_name()));
        if (!integral) continue;
        const std::optional<std::int64_t> n = v.int64();
        if (!n) {
            integral = false;
            continue;
        }
        bool overflow = multiply ? __builtin_mul_overflow(exact, *n, &exact)
                                 : __builtin_add_overflow(exact, *n, &exact);
        if (overflow) integral = false;
    }
    if (integral) return done(std::to_string(exact));

    double acc = multiply ? 1.0 : 0.0;
    for (std::size_t i = 0; i < d.size(); ++i) acc = multiply ? acc * d[i].number() : acc + d[i].number();
    if (!std::isfinite(acc))
        return permanent(std::string(name) + ": the result is too large for a JSON number");
    return done(json::number_text(acc));
}

outcome sum(const std::string& payload, std::chrono::milliseconds) { return fold(payload, false); }
outcome multiply(const std::string& payload, std::chrono::milliseconds) { return fold(payload, true); }

// Sleeps in the calling thread: handlers run on the worker's handler threads. A sleep longer
// than the task's time limit runs until the limit and fails like an external command would.
outcome sleep(const std::string& payload, std::chrono::milliseconds limit) {
    std::string why;
    const std::optional<json::document> doc = parse(payload, why);
    if (!doc) return permanent("sleep: " + why);
    const std::optional<std::int64_t> ms = doc->root().int64();
    if (!ms || *ms < 0 || *ms > max_sleep_ms)
        return permanent("sleep expects a whole number of milliseconds from 0 to " +
                         std::to_string(max_sleep_ms));
    const std::chrono::milliseconds wanted(*ms);
    if (limit.count() > 0 && wanted > limit) {
        std::this_thread::sleep_for(limit);
        auto o = failed("timed out after " + std::to_string(limit.count()) + " ms (sleep of " +
                        std::to_string(wanted.count()) + " ms)");
        o.timed_out = true;
        return o;
    }
    std::this_thread::sleep_for(wanted);
    return done("null");
}

struct entry {
    std::string_view name;
    builtin_fn fn;
};

constexpr entry table[] = {
    {"echo", echo},         {"sum", sum},   {"sumar", sum}, {"multiply", multiply},
    {"multiplicar", multiply}, {"sleep", sleep},
};

}  // namespace

bool is_instant_builtin(std::string_view type) noexcept {
    const builtin_fn fn = find_builtin(type);
    return fn != nullptr && fn != sleep;
}

builtin_fn find_builtin(std::string_view type) noexcept {
    for (const auto& e : table)
        if (e.name == type) return e.fn;
    return nullptr;
}

}  // namespace pfo3::handlers::detail
