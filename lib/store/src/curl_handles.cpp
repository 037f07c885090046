#include "curl_handles.hpp"

#include <cstring>

#include "pfo3/core/error.hpp"

namespace pfo3::store {

void curl_global_once() {
    // A function-local static is initialised exactly once even with concurrent callers; the
    // process never calls curl_global_cleanup, because another thread may still use libcurl.
    static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (init != CURLE_OK) throw service_error("libcurl initialisation failed: " + curl_code_text(init, nullptr), false);
}

unique_curl make_curl_easy() {
    unique_curl h(curl_easy_init());
    if (!h) throw service_error("libcurl: curl_easy_init failed (out of memory)", true);
    return h;
}

unique_curlm make_curl_multi() {
    unique_curlm h(curl_multi_init());
    if (!h) throw service_error("libcurl: curl_multi_init failed (out of memory)", true);
    return h;
}

void curl_append_header(unique_slist& list, const std::string& line) {
    curl_slist* grown = curl_slist_append(list.get(), line.c_str());
    if (!grown) throw service_error("libcurl: curl_slist_append failed (out of memory)", true);
    (void)list.release();  // curl_slist_append returned the same list, now one longer
    list.reset(grown);
}

bool curl_code_retryable(CURLcode code) noexcept {
    switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_LOGIN_DENIED:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_WRITE_ERROR:  // our write callback refused an oversized response
        return false;
    default:
        return true;
    }
}

std::string curl_code_text(CURLcode code, const char* detail) {
    std::string s = "curl error " + std::to_string(static_cast<int>(code)) + " (" + curl_easy_strerror(code) + ")";
    if (detail && *detail) {
        s += ": ";
        s.append(detail, ::strnlen(detail, CURL_ERROR_SIZE));
    }
    return s;
}

}  // namespace pfo3::store
