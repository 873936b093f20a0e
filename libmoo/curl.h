/*
 * curl.h: libcurl, loaded the first time it is needed. Internal.
 *
 * libcurl and the ~30 libraries it brings (Kerberos, LDAP, GnuTLS, RTMP, …) cost ~15 ms of
 * CPU at every start of moo on our machines, yet only bundles given by URL and registry
 * lookups use it. So libmoo does not link it: files that use curl include this header
 * instead of <curl/curl.h> and call moo__curl_load() before their first curl call; the
 * curl_* names below then go through the table it fills (util/curl.c).
 */
#ifndef MOO_CURL_H
#define MOO_CURL_H
#define CURL_DISABLE_TYPECHECK 1 /* its checks are macros over the names redefined below */
#include <curl/curl.h>
#include "internal.h"

/*
 * Every HTTP transfer gives up on a server that sends under LOW_SPEED_BPS bytes/s for
 * LOW_SPEED_S seconds (a 1 byte/s drip fails in 30 s, not never).
 */
#define MOO__HTTP_LOW_SPEED_BPS 1024L
#define MOO__HTTP_LOW_SPEED_S   30L

struct moo__curl_api {
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *h);
	void (*easy_reset)(CURL *h);
	CURLcode (*easy_setopt)(CURL *h, CURLoption option, ...);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	CURLcode (*easy_perform)(CURL *h);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
	/* registry.c: query escaping and URL parts */
	char *(*easy_escape)(CURL *h, const char *s, int len);
	void (*free)(void *p);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *u);
	CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
	CURLUcode (*url_get)(const CURLU *u, CURLUPart what, char **part, unsigned int flags);
};
extern struct moo__curl_api moo__curl;

/* Loads libcurl once (thread-safe). MOO_EIO, naming the library, when it cannot. */
int moo__curl_load(struct moo_error **err);

#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_init      moo__curl.easy_init
#define curl_easy_cleanup   moo__curl.easy_cleanup
#define curl_easy_reset     moo__curl.easy_reset
#define curl_easy_setopt    moo__curl.easy_setopt
#define curl_easy_getinfo   moo__curl.easy_getinfo
#define curl_easy_perform   moo__curl.easy_perform
#define curl_easy_strerror  moo__curl.easy_strerror
#define curl_slist_append   moo__curl.slist_append
#define curl_slist_free_all moo__curl.slist_free_all
#define curl_easy_escape    moo__curl.easy_escape
#define curl_free           moo__curl.free
#define curl_url            moo__curl.url
#define curl_url_cleanup    moo__curl.url_cleanup
#define curl_url_set        moo__curl.url_set
#define curl_url_get        moo__curl.url_get
#endif
