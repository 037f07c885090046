#include "builtins.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <thread>

#include "pfo3/json/text.hpp"

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

bool parse(const std::string& payload, rapidjson::Document& d, std::string& why) {
    d.Parse<rapidjson::kParseFullPrecisionFlag>(payload.data(), payload.size());
    if (d.HasParseError()) {
        why = "payload is not valid JSON";
        return false;
    }
    return true;
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
    rapidjson::Document d;
    std::string why;
    if (!parse(payload, d, why)) return permanent(std::string(name) + ": " + why);
    if (!d.IsArray())
        return permanent(std::string(name) + " expects a JSON array of numbers, got " +
                         std::string(json::kind_name(d)));

    std::int64_t exact = multiply ? 1 : 0;
    bool integral = true;
    for (rapidjson::SizeType i = 0; i < d.Size(); ++i) {
        const auto& v = d[i];
        if (!v.IsNumber())
            return permanent(std::string(name) + " expects a JSON array of numbers, element " +
                             std::to_string(i) + " is " + std::string(json::kind_name(v)));
        if (!integral) continue;
        if (!v.IsInt64()) {
            integral = false;
            continue;
        }
        bool overflow = multiply ? __builtin_mul_overflow(exact, v.GetInt64(), &exact)
                                 : __builtin_add_overflow(exact, v.GetInt64(), &exact);
        if (overflow) integral = false;
    }
    if (integral) return done(std::to_string(exact));

    double acc = multiply ? 1.0 : 0.0;
    for (const auto& v : d.GetArray()) acc = multiply ? acc * v.GetDouble() : acc + v.GetDouble();
    if (!std::isfinite(acc))
        return permanent(std::string(name) + ": the result is too large for a JSON number");
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.Double(acc);
    return done({buf.GetString(), buf.GetSize()});
}

outcome sum(const std::string& payload, std::chrono::milliseconds) { return fold(payload, false); }
outcome multiply(const std::string& payload, std::chrono::milliseconds) { return fold(payload, true); }

// Sleeps in the calling thread: handlers run on the worker's handler threads. A sleep longer
// than the task's time limit runs until the limit and fails like an external command would.
outcome sleep(const std::string& payload, std::chrono::milliseconds limit) {
    rapidjson::Document d;
    std::string why;
    if (!parse(payload, d, why)) return permanent("sleep: " + why);
    if (!d.IsInt64() || d.GetInt64() < 0 || d.GetInt64() > max_sleep_ms)
        return permanent("sleep expects a whole number of milliseconds from 0 to " +
                         std::to_string(max_sleep_ms));
    const std::chrono::milliseconds wanted(d.GetInt64());
    if (limit.count() > 0 && wanted > limit) {
        std::this_thread::sleep_for(limit);
        return failed("timed out after " + std::to_string(limit.count()) + " ms (sleep of " +
                      std::to_string(wanted.count()) + " ms)");
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

builtin_fn find_builtin(std::string_view type) noexcept {
    for (const auto& e : table)
        if (e.name == type) return e.fn;
    return nullptr;
}

}  // namespace pfo3::handlers::detail
