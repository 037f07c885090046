#pragma once
// RAII for libcurl's C handles, the one-time global initialisation, and libcurl's one error
// translator (which failures a retry may cure). Private to the store module.
#include <curl/curl.h>

#include <memory>
#include <string>

namespace pfo3::store {

/// Frees an easy handle.
struct curl_easy_deleter {
    void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
/// Frees a multi handle (its easy handles must have been removed first).
struct curl_multi_deleter {
    void operator()(CURLM* h) const noexcept { curl_multi_cleanup(h); }
};
/// Frees a header list.
struct curl_slist_deleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

/// One easy handle: one transfer at a time, keeps its options between transfers.
using unique_curl = std::unique_ptr<CURL, curl_easy_deleter>;
/// One multi handle: runs transfers in parallel and owns the shared connection cache.
using unique_curlm = std::unique_ptr<CURLM, curl_multi_deleter>;
/// A request's header list.
using unique_slist = std::unique_ptr<curl_slist, curl_slist_deleter>;

/// curl_global_init, exactly once per process, thread-safe. Throws service_error on failure.
void curl_global_once();
/// A new easy handle (after curl_global_once). Throws service_error if libcurl has no memory.
unique_curl make_curl_easy();
/// A new multi handle (after curl_global_once). Throws service_error if libcurl has no memory.
unique_curlm make_curl_multi();
/// Appends `line` to `list`. Throws service_error if libcurl has no memory.
void curl_append_header(unique_slist& list, const std::string& line);

/// True if a transfer that ended with `code` may succeed when tried again (connection
/// refused or reset, timeout, DNS hiccup), false for what no retry cures (bad URL, TLS
/// certificate not trusted, unsupported protocol).
bool curl_code_retryable(CURLcode code) noexcept;
/// "curl error 7 (Couldn't connect to server): <detail>" for messages; `detail` may be empty.
std::string curl_code_text(CURLcode code, const char* detail);

}  // namespace pfo3::store
