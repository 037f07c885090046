#include "pfo3/json/value.hpp"

#include "json_detail.hpp"

namespace pfo3::json {

namespace {

using detail::value_access;

const rapidjson::Value& raw(value v) noexcept { return value_access::get(v); }

}  // namespace

std::string_view kind_name(kind k) noexcept {
    switch (k) {
    case kind::null: return "null";
    case kind::boolean: return "a boolean";
    case kind::number: return "a number";
    case kind::string: return "a string";
    case kind::array: return "an array";
    case kind::object: return "an object";
    }
    return "something else";
}

kind value::type() const noexcept {
    switch (raw(*this).GetType()) {
    case rapidjson::kNullType: return kind::null;
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return kind::boolean;
    case rapidjson::kObjectType: return kind::object;
    case rapidjson::kArrayType: return kind::array;
    case rapidjson::kStringType: return kind::string;
    case rapidjson::kNumberType: return kind::number;
    }
    return kind::null;
}

bool value::boolean() const noexcept { return raw(*this).IsTrue(); }

std::string_view value::string() const noexcept {
    const auto& v = raw(*this);
    return v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
}

std::optional<std::int64_t> value::int64() const noexcept {
    const auto& v = raw(*this);
    if (!v.IsInt64()) return std::nullopt;
    return v.GetInt64();
}

std::optional<std::uint64_t> value::uint64() const noexcept {
    const auto& v = raw(*this);
    if (!v.IsUint64()) return std::nullopt;
    return v.GetUint64();
}

double value::number() const noexcept {
    const auto& v = raw(*this);
    return v.IsNumber() ? v.GetDouble() : 0.0;
}

std::size_t value::size() const noexcept {
    const auto& v = raw(*this);
    if (v.IsArray()) return v.Size();
    if (v.IsObject()) return v.MemberCount();
    return 0;
}

value value::operator[](std::size_t i) const noexcept {
    return value_access::wrap(raw(*this)[static_cast<rapidjson::SizeType>(i)]);
}

member value::member_at(std::size_t i) const noexcept {
    const auto& m = *(raw(*this).MemberBegin() + static_cast<std::ptrdiff_t>(i));
    return {std::string_view(m.name.GetString(), m.name.GetStringLength()), value_access::wrap(m.value)};
}

std::optional<value> value::find(std::string_view name) const noexcept {
    const auto& v = raw(*this);
    if (!v.IsObject()) return std::nullopt;
    // Compared by length and bytes: a key may hold "\u0000".
    for (const auto& m : v.GetObject())
        if (std::string_view(m.name.GetString(), m.name.GetStringLength()) == name)
            return value_access::wrap(m.value);
    return std::nullopt;
}

std::string value::compact() const {
    std::string out;
    append_compact(out);
    return out;
}

void value::append_compact(std::string& out) const { detail::append_compact(out, raw(*this)); }

struct document::impl {
    rapidjson::Document doc;
};

document::document(std::unique_ptr<impl> i) noexcept : impl_(std::move(i)) {}
document::document(document&&) noexcept = default;
document& document::operator=(document&&) noexcept = default;
document::~document() = default;

value document::root() const noexcept { return value_access::wrap(impl_->doc); }

std::optional<document> parse(std::string_view text, std::string& why, std::size_t max_depth) {
    auto i = std::make_unique<document::impl>();
    detail::parse_failure failure;
    if (!detail::parse_document(i->doc, text, max_depth, failure)) {
        why = detail::describe(failure, max_depth);
        return std::nullopt;
    }
    return document(std::move(i));
}

std::string number_text(double d) {
    std::string out;
    detail::string_sink sink(out);
    rapidjson::Writer<detail::string_sink> writer(sink);
    // The writer refuses infinity and NaN (writing nothing); JSON has no such numbers.
    if (!writer.Double(d)) return "null";
    return out;
}

}  // namespace pfo3::json
