#pragma once
// The [auth] section: read from TOML (it holds booleans and arrays, which the key table of
// rules.hpp does not) and checked as a whole.
#include <string_view>
#include <toml++/toml.h>

#include "pfo3/config/settings.hpp"
#include "rules.hpp"

namespace pfo3::config::detail {

/// Reads [auth] over the defaults; throws config_error "SOURCE:LINE: auth.KEY: message".
auth_settings read_auth_section(const toml::node& node, std::string_view source);
/// Reads [serve.tls] over the defaults; errors like read_auth_section's.
serve_tls_settings read_serve_tls_section(const toml::node& node, std::string_view source);
/// Every rule of [serve.tls]: the enums, the range, a certificate and key when TLS is on, a CA
/// when client certificates are asked for.
problem check_serve_tls(const serve_tls_settings& t);
/// Reads [amqp.tls] over the defaults; errors like read_auth_section's.
amqp_tls_settings read_amqp_tls_section(const toml::node& node, std::string_view source);
/// The rules of [amqp.tls]: sasl plain|external; external needs a client certificate and an
/// amqps:// URL (it is checked against `url` once flags and environment were applied).
problem check_amqp_tls(const amqp_tls_settings& t, std::string_view url);
/// Every rule of [auth] (mode, ranges, CIDRs, scope names, a tokens file where one is needed);
/// the message names the key.
problem check_auth(const auth_settings& a);

}  // namespace pfo3::config::detail
