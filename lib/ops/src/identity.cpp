#include "pfo3/ops/identity.hpp"

#include <unistd.h>

#include <cstdio>

namespace pfo3::ops {

std::string process_identity() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
    return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace pfo3::ops
