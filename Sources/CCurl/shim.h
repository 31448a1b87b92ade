#ifndef HOTDESK_CCURL_SHIM_H
#define HOTDESK_CCURL_SHIM_H
// Swift cannot call curl's variadic functions or see its cast macros: these typed wrappers
// and constants are all HotDesk uses. See reference/swift-build-notes.md (pitfalls 2, 3).
#include <curl/curl.h>

static inline CURLcode ccurl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_write(CURL *h, CURLoption o, curl_write_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode ccurl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLcode ccurl_msg_result(CURLMsg *msg) { return msg->data.result; }

static const unsigned long CCURLAUTH_BASIC = CURLAUTH_BASIC;
static const unsigned long CCURLAUTH_DIGEST = CURLAUTH_DIGEST;
static const unsigned long CCURLAUTH_ANY = CURLAUTH_ANY;

#endif
