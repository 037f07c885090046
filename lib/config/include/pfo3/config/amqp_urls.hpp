#pragma once
// The broker URLs of [amqp]: `url` (one) or `urls` (the nodes of a cluster, decision 0013).
#include <string>
#include <vector>

#include "pfo3/config/settings.hpp"

namespace pfo3::config {

/// The brokers to use, in the configured order: amqp.urls, or amqp.url when urls is empty.
std::vector<std::string> broker_urls(const amqp_settings& a);

/// At most this many broker URLs (a cluster has a handful of nodes; the bound keeps a
/// mistaken list from turning into thousands of connect attempts per round).
inline constexpr std::size_t max_broker_urls = 64;

}  // namespace pfo3::config
