#pragma once
// The metrics of one process and their Prometheus text exposition (format 0.0.4). Metrics are
// registered at start-up (each returned by reference, owned by the registry and living as long
// as it); render() is called per scrape. Families keep the order of their first registration;
// the series of one family are written together under one HELP/TYPE. Registration and render()
// take a lock; updating a metric never does. Thread-safe.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pfo3/metrics/metric.hpp"

namespace pfo3::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

enum class kind { counter, gauge, histogram };

/// Writes the samples of one family for a callback (see registry::add_callback).
class sample_writer {
public:
    explicit sample_writer(std::string& out, std::string_view name) : out_(out), name_(name) {}
    /// One sample line: NAME{labels} value.
    void sample(const labels& l, double value);
    void sample(double value) { sample({}, value); }

private:
    std::string& out_;
    std::string_view name_;
};

class registry {
public:
    registry() = default;
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    counter& add_counter(const std::string& name, const std::string& help, const labels& l = {});
    gauge& add_gauge(const std::string& name, const std::string& help, const labels& l = {});
    histogram& add_histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                             const labels& l = {});
    /// A family whose samples are computed at scrape time (process figures, queue depths,
    /// counters kept elsewhere). `fill` runs inside render(), under the registry's lock.
    void add_callback(const std::string& name, const std::string& help, kind k,
                      std::function<void(sample_writer&)> fill);

    /// Every family in the text format, ending with a newline.
    std::string render() const;

private:
    struct family {
        std::string name, help;
        kind type;
        std::vector<std::function<void(std::string&)>> parts;
    };
    family& family_of(const std::string& name, const std::string& help, kind k);

    mutable std::mutex mu_;
    std::vector<family> families_;
    std::deque<counter> counters_;
    std::deque<gauge> gauges_;
    std::deque<std::unique_ptr<histogram>> histograms_;
};

/// `{a="x",b="y"}` with values escaped as the text format requires; "" for no labels.
std::string format_labels(const labels& l);
/// A sample value: integers without a fraction, +Inf/-Inf/NaN spelled as Prometheus reads them.
std::string format_value(double v);

}  // namespace pfo3::metrics
