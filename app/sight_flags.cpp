#include "sight_flags.hpp"

#include <cstdint>

namespace pfo3::app {

void add_metrics_flag(CLI::App& cmd, std::optional<bool>& metrics) {
    // --metrics counts +1, --no-metrics -1 (CLI11's "!" prefix); the callback runs only when given.
    cmd.add_flag_function(
           "--metrics,!--no-metrics", [&metrics](std::int64_t sum) { metrics = sum > 0; },
           "record metrics and serve GET /metrics, or not (http.metrics; off: /metrics answers 404)")
        ->multi_option_policy(CLI::MultiOptionPolicy::Throw);
}

}  // namespace pfo3::app
