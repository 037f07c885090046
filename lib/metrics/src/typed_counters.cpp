#include "pfo3/metrics/typed_counters.hpp"

namespace pfo3::metrics {

typed_counters::typed_counters(registry& r, const std::string& name, const std::string& help, bounded_labels& types,
                               std::string column_label, std::vector<std::string> columns)
    : types_(types),
      column_label_(std::move(column_label)),
      columns_(std::move(columns)),
      cells_(new std::atomic<std::uint64_t>[types.slots() * columns_.size()]) {
    for (std::size_t i = 0; i < types_.slots() * columns_.size(); ++i) cells_[i].store(0, std::memory_order_relaxed);
    r.add_callback(name, help, kind::counter, [this](sample_writer& w) {
        for (std::size_t slot = 0; slot < types_.slots(); ++slot) {
            const std::string* type = types_.value_at(slot);
            if (!type) continue;
            for (std::size_t c = 0; c < columns_.size(); ++c) {
                const auto v = cells_[slot * columns_.size() + c].load(std::memory_order_relaxed);
                if (!v) continue;
                if (column_label_.empty()) w.sample({{"type", *type}}, static_cast<double>(v));
                else w.sample({{"type", *type}, {column_label_, columns_[c]}}, static_cast<double>(v));
            }
        }
    });
}

}  // namespace pfo3::metrics
