// Finding and reading the config file, then layering file, environment and defaults.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "pfo3/config/load.hpp"
#include "pfo3/core/error.hpp"

namespace pfo3::config {

namespace {

/// A config file larger than this is refused rather than read into memory.
constexpr std::size_t max_config_bytes = 1 << 20;

struct file_closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

std::string read_config_file(const std::string& path) {
    std::unique_ptr<std::FILE, file_closer> file(std::fopen(path.c_str(), "rb"));
    if (!file)
        throw config_error(path + ": cannot open config file: " + std::strerror(errno));
    std::string text;
    char buf[16384];
    while (true) {
        std::size_t n = std::fread(buf, 1, sizeof buf, file.get());
        text.append(buf, n);
        if (text.size() > max_config_bytes)
            throw config_error(path + ": config file is larger than " +
                               std::to_string(max_config_bytes) + " bytes");
        if (n < sizeof buf) break;
    }
    if (std::ferror(file.get()))
        throw config_error(path + ": cannot read config file: " + std::strerror(errno));
    return text;
}

// A file the user named must exist: silently falling back to defaults would hide a typo.
std::string named_file(const std::string& path, std::string_view named_by) {
    if (path.empty())
        throw config_error(std::string(named_by) + ": names an empty config file path");
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status))
        throw config_error(path + ": config file named by " + std::string(named_by) +
                           " does not exist");
    if (std::filesystem::is_directory(status))
        throw config_error(path + ": config file named by " + std::string(named_by) +
                           " is a directory");
    return path;
}

}  // namespace

std::optional<std::string> find_config_file(const std::optional<std::string>& flag,
                                            const env_lookup& env,
                                            std::span<const std::string_view> fallbacks) {
    if (flag) return named_file(*flag, "--config");
    if (auto variable = env("PFO3_CONFIG"); variable && !variable->empty())
        return named_file(*variable, "PFO3_CONFIG");
    for (auto candidate : fallbacks) {
        std::error_code ec;
        bool found = std::filesystem::exists(candidate, ec);
        // exists() reports "not found" as false without an error; anything else (permission
        // denied on the directory) must not silently mean "use the defaults".
        if (ec)
            throw config_error(std::string(candidate) + ": cannot look for config file: " +
                               ec.message());
        if (found) return std::string(candidate);
    }
    return std::nullopt;
}

std::optional<std::string> find_config_file(const std::optional<std::string>& flag,
                                            const env_lookup& env) {
    return find_config_file(flag, env, default_config_files);
}

settings load_settings(const std::optional<std::string>& flag, const env_lookup& env) {
    settings s;
    if (auto path = find_config_file(flag, env)) {
        s = parse_settings(read_config_file(*path), *path);
        s.source = *path;
    }
    apply_environment(s, env);
    return s;
}

}  // namespace pfo3::config
