#include "pfo3/metrics/registry.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace pfo3::metrics {

namespace {

std::string_view kind_name(kind k) {
    switch (k) {
    case kind::counter: return "counter";
    case kind::gauge: return "gauge";
    case kind::histogram: return "histogram";
    }
    return "untyped";
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view s, bool quote) {
    for (char c : s) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else if (quote && c == '"') out += "\\\"";
        else out += c;
    }
}

bool valid_name(std::string_view n) {
    if (n.empty()) return false;
    for (std::size_t i = 0; i < n.size(); ++i) {
        const char c = n[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

void append_line(std::string& out, std::string_view name, std::string_view suffix, const std::string& label_text,
                 double v) {
    out += name;
    out += suffix;
    out += label_text;
    out += ' ';
    out += format_value(v);
    out += '\n';
}

// `{a="x",le="0.5"}`: the series' own labels plus one more.
std::string with_label(const labels& l, const char* key, const std::string& value) {
    labels all = l;
    all.emplace_back(key, value);
    return format_labels(all);
}

}  // namespace

std::string format_labels(const labels& l) {
    if (l.empty()) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < l.size(); ++i) {
        if (i) out += ',';
        out += l[i].first;
        out += "=\"";
        append_escaped(out, l[i].second, true);
        out += '"';
    }
    out += '}';
    return out;
}

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    std::to_chars_result r;
    if (v == std::floor(v) && std::fabs(v) < 9e15)
        r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
    else
        r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

void sample_writer::sample(const labels& l, double value) { append_line(out_, name_, "", format_labels(l), value); }

registry::family& registry::family_of(const std::string& name, const std::string& help, kind k) {
    if (!valid_name(name)) throw std::invalid_argument("invalid metric name: " + name);
    for (auto& f : families_) {
        if (f.name != name) continue;
        if (f.type != k) throw std::invalid_argument("metric " + name + " registered with two types");
        return f;
    }
    families_.push_back(family{name, help, k, {}});
    return families_.back();
}

counter& registry::add_counter(const std::string& name, const std::string& help, const labels& l) {
    std::lock_guard lk(mu_);
    auto& f = family_of(name, help, kind::counter);
    counter& c = counters_.emplace_back();
    f.parts.push_back([&c, name, text = format_labels(l)](std::string& out) {
        append_line(out, name, "", text, static_cast<double>(c.value()));
    });
    return c;
}

gauge& registry::add_gauge(const std::string& name, const std::string& help, const labels& l) {
    std::lock_guard lk(mu_);
    auto& f = family_of(name, help, kind::gauge);
    gauge& g = gauges_.emplace_back();
    f.parts.push_back([&g, name, text = format_labels(l)](std::string& out) {
        append_line(out, name, "", text, static_cast<double>(g.value()));
    });
    return g;
}

histogram& registry::add_histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                                   const labels& l) {
    std::lock_guard lk(mu_);
    auto& f = family_of(name, help, kind::histogram);
    histogram& h = *histograms_.emplace_back(std::make_unique<histogram>(std::move(bounds)));
    std::vector<std::string> le_text;
    for (double b : h.bounds()) le_text.push_back(with_label(l, "le", format_value(b)));
    le_text.push_back(with_label(l, "le", "+Inf"));
    f.parts.push_back([&h, name, le_text, text = format_labels(l)](std::string& out) {
        // Cumulative buckets; the count is the +Inf bucket, so the two always agree.
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < le_text.size(); ++i) {
            cumulative += h.bucket(i);
            append_line(out, name, "_bucket", le_text[i], static_cast<double>(cumulative));
        }
        append_line(out, name, "_sum", text, h.sum());
        append_line(out, name, "_count", text, static_cast<double>(cumulative));
    });
    return h;
}

void registry::add_callback(const std::string& name, const std::string& help, kind k,
                            std::function<void(sample_writer&)> fill) {
    std::lock_guard lk(mu_);
    auto& f = family_of(name, help, k);
    f.parts.push_back([name, fill = std::move(fill)](std::string& out) {
        sample_writer w(out, name);
        fill(w);
    });
}

std::string registry::render() const {
    std::string out;
    out.reserve(16384);
    std::lock_guard lk(mu_);
    for (const auto& f : families_) {
        out += "# HELP ";
        out += f.name;
        out += ' ';
        append_escaped(out, f.help, false);
        out += "\n# TYPE ";
        out += f.name;
        out += ' ';
        out += kind_name(f.type);
        out += '\n';
        for (const auto& part : f.parts) part(out);
    }
    return out;
}

}  // namespace pfo3::metrics
