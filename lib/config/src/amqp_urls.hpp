#pragma once
// Private to the config module: reading and checking amqp.urls, which the key table (rules.hpp)
// cannot hold because it is a list.
#include <string>
#include <string_view>
#include <vector>

#include "pfo3/config/load.hpp"
#include "rules.hpp"

namespace pfo3::config::detail {

/// Each URL checked like amqp.url; 1 to max_broker_urls of them. The message names the element.
problem check_amqp_urls(const std::vector<std::string>& urls);

/// "a,b , c" -> {"a", "b", "c"}; an empty element is kept (and refused by check_amqp_urls).
std::vector<std::string> split_urls(std::string_view text);

/// PFO3_AMQP_URLS (comma-separated) sets amqp.urls; PFO3_AMQP_URL alone replaces the file's
/// urls too (environment beats file); both set is an error.
void apply_url_environment(settings& s, const env_lookup& env);

}  // namespace pfo3::config::detail
