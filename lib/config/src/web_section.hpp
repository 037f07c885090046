#pragma once
// The [web] section (serve's status page): read from TOML (it holds a boolean, which the key
// table of rules.hpp does not).
#include <string_view>
#include <toml++/toml.h>

#include "pfo3/config/settings.hpp"

namespace pfo3::config::detail {

/// Reads [web] over the defaults; throws config_error "SOURCE:LINE: web.KEY: message".
web_settings read_web_section(const toml::node& node, std::string_view source);

}  // namespace pfo3::config::detail
