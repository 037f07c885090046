#include "pfo3/config/amqp_urls.hpp"

#include "amqp_urls.hpp"
#include "pfo3/core/error.hpp"

namespace pfo3::config {

std::vector<std::string> broker_urls(const amqp_settings& a) {
    if (a.urls.empty()) return {a.url};
    return a.urls;
}

namespace detail {

problem check_amqp_urls(const std::vector<std::string>& urls) {
    if (urls.empty()) return std::string("must list at least one broker URL");
    if (urls.size() > max_broker_urls)
        return "must list at most " + std::to_string(max_broker_urls) + " broker URLs, got " +
               std::to_string(urls.size());
    for (std::size_t i = 0; i < urls.size(); ++i)
        if (auto p = check_amqp_url(urls[i])) return "element " + std::to_string(i + 1) + " " + *p;
    return std::nullopt;
}

std::vector<std::string> split_urls(std::string_view text) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (true) {
        auto comma = text.find(',', at);
        auto item = text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        out.emplace_back(item);
        if (comma == std::string_view::npos) return out;
        at = comma + 1;
    }
}

void apply_url_environment(settings& s, const env_lookup& env) {
    auto many = env("PFO3_AMQP_URLS");
    auto one = env("PFO3_AMQP_URL");
    const bool has_many = many && !many->empty();
    const bool has_one = one && !one->empty();
    if (has_many && has_one)
        throw config_error("PFO3_AMQP_URLS and PFO3_AMQP_URL are both set: set one (a list of one is a URL)");
    if (has_one) s.amqp.urls.clear();  // the variable's URL, not the file's list
    if (!has_many) return;
    auto urls = split_urls(*many);
    if (auto p = check_amqp_urls(urls)) throw config_error("PFO3_AMQP_URLS: " + *p);
    s.amqp.urls = std::move(urls);
}

}  // namespace detail

}  // namespace pfo3::config
