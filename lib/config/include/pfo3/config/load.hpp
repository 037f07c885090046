#pragma once
// Loading settings: file lookup, TOML parsing with strict validation, environment overrides.
// Every failure throws pfo3::config_error with "FILE:LINE: KEY: message".
#include <array>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pfo3/config/settings.hpp"

namespace pfo3::config {

/// Reads an environment variable; nullopt when unset. Injected so tests need no setenv.
using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;
/// The process environment.
env_lookup process_environment();

/// Which file to read (SPEC 2): `flag`, else $PFO3_CONFIG, else ./pfo3.toml, else
/// /etc/pfo3/pfo3.toml if they exist; nullopt: built-in defaults. A file named by the flag or
/// the variable that does not exist is an error.
std::optional<std::string> find_config_file(const std::optional<std::string>& flag,
                                            const env_lookup& env);

/// Where find_config_file looks when neither the flag nor $PFO3_CONFIG names a file, in order.
inline constexpr std::array<std::string_view, 2> default_config_files{"pfo3.toml",
                                                                     "/etc/pfo3/pfo3.toml"};

/// find_config_file with another fallback list than default_config_files (for tests).
std::optional<std::string> find_config_file(const std::optional<std::string>& flag,
                                            const env_lookup& env,
                                            std::span<const std::string_view> fallbacks);

/// Parses TOML text into settings over the defaults. `source` names the text in errors.
/// Unknown keys, wrong types and impossible values are errors.
settings parse_settings(std::string_view toml_text, std::string_view source);

/// Applies PFO3_AMQP_URL, PFO3_QUEUE, PFO3_STORE, PFO3_SERVER, PFO3_LISTEN, PFO3_PREFETCH,
/// PFO3_CONCURRENCY, PFO3_TYPE, PFO3_AMQP_PASSWORD_FILE, PFO3_STORE_PASSWORD_FILE over `s`
/// (environment beats file). Bad values are errors that name the variable.
void apply_environment(settings& s, const env_lookup& env);

/// find_config_file + parse_settings (or defaults) + apply_environment.
settings load_settings(const std::optional<std::string>& flag, const env_lookup& env);

/// Checks cross-field rules and ranges once flags were applied too; throws config_error
/// naming the setting.
void validate(const settings& s);

/// Puts the password of amqp.password_file into amqp.url and that of store.password_file into
/// store.uri (postgresql:// only), so that everything after holds the final URLs and no
/// password has to be on a command line or in a config file. Call once, after the flags were
/// applied. The file's first line (without its line end) is the password of the URL's user,
/// percent-encoded into it. A URL with a password of its own: the file wins, with a warning; a
/// file group or others may read: a warning. A file that cannot be read, whose first line is
/// empty, or a URL without a user: config_error naming the key and the path, never the content.
void apply_password_files(settings& s);

}  // namespace pfo3::config
