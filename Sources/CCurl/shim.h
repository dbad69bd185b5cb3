#ifndef OVA_CCURL_SHIM_H
#define OVA_CCURL_SHIM_H
// libcurl (Debian: libcurl4-openssl-dev).
//
// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call, and several
// constants are macros Swift does not import (CURL_WRITEFUNC_PAUSE, CURLPAUSE_CONT). The
// wrappers below give each argument type its own non-variadic entry point; each one passes
// exactly the type libcurl documents for the options it is used with.

// The type-checking macros in <curl/typecheck-gcc.h> rewrite curl_easy_setopt into a
// statement expression; the wrappers already fix the argument types, so skip them.
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

/// CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION signature.
typedef size_t (*ova_curl_data_callback)(char *data, size_t size, size_t count, void *userdata);
/// CURLOPT_XFERINFOFUNCTION signature.
typedef int (*ova_curl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                          curl_off_t ultotal, curl_off_t ulnow);

static const size_t OVA_CURL_WRITEFUNC_PAUSE = CURL_WRITEFUNC_PAUSE;
static const int OVA_CURLPAUSE_CONT = CURLPAUSE_CONT;
static const long OVA_CURL_GLOBAL_DEFAULT = CURL_GLOBAL_DEFAULT;
static const int OVA_CURL_ERROR_SIZE = CURL_ERROR_SIZE;

/// For options that take a `long` (flags, timeouts in milliseconds, sizes below 2 GiB).
static inline CURLcode ova_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

/// For options that take a `curl_off_t` (CURLOPT_POSTFIELDSIZE_LARGE).
static inline CURLcode ova_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/// For options that take a C string; libcurl copies it (except CURLOPT_POSTFIELDS, not used).
static inline CURLcode ova_curl_setopt_str(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

/// For options that take an object pointer (CURLOPT_ERRORBUFFER, CURLOPT_PRIVATE, CURLOPT_COPYPOSTFIELDS).
static inline CURLcode ova_curl_setopt_ptr(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

/// For options that take a `struct curl_slist *` (CURLOPT_HTTPHEADER); the list must outlive the transfer.
static inline CURLcode ova_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets CURLOPT_WRITEFUNCTION and CURLOPT_WRITEDATA together.
static inline CURLcode ova_curl_setopt_write_callback(CURL *handle, ova_curl_data_callback callback, void *userdata) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_WRITEDATA, userdata);
}

/// Sets CURLOPT_HEADERFUNCTION and CURLOPT_HEADERDATA together.
static inline CURLcode ova_curl_setopt_header_callback(CURL *handle, ova_curl_data_callback callback, void *userdata) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_HEADERDATA, userdata);
}

/// Sets CURLOPT_XFERINFOFUNCTION and CURLOPT_XFERINFODATA and turns progress calls on
/// (CURLOPT_NOPROGRESS 0), which the callback needs to be called at all.
static inline CURLcode ova_curl_setopt_xferinfo_callback(CURL *handle, ova_curl_xferinfo_callback callback, void *userdata) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
    if (code != CURLE_OK) return code;
    code = curl_easy_setopt(handle, CURLOPT_XFERINFODATA, userdata);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
}

/// curl_easy_getinfo for `long` results (CURLINFO_RESPONSE_CODE).
static inline CURLcode ova_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

/// The result code of a CURLMSG_DONE message (a member of an anonymous union in CURLMsg).
static inline CURLcode ova_curl_msg_result(const CURLMsg *message) {
    return message->data.result;
}

#endif
