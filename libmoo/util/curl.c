/* Loading libcurl on first use (see curl.h for why). */
#include <pthread.h>
#include "../curl.h"

struct moo__curl_api moo__curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *load_error;

static void load(void)
{
	struct moo__curl_api api;
	const struct moo__dl_sym syms[] = {
		{"curl_easy_init", (void **)&api.easy_init},
		{"curl_easy_cleanup", (void **)&api.easy_cleanup},
		{"curl_easy_reset", (void **)&api.easy_reset},
		{"curl_easy_setopt", (void **)&api.easy_setopt},
		{"curl_easy_getinfo", (void **)&api.easy_getinfo},
		{"curl_easy_perform", (void **)&api.easy_perform},
		{"curl_easy_strerror", (void **)&api.easy_strerror},
		{"curl_slist_append", (void **)&api.slist_append},
		{"curl_slist_free_all", (void **)&api.slist_free_all},
		{"curl_easy_escape", (void **)&api.easy_escape},
		{"curl_free", (void **)&api.free},
		{"curl_url", (void **)&api.url},
		{"curl_url_cleanup", (void **)&api.url_cleanup},
		{"curl_url_set", (void **)&api.url_set},
		{"curl_url_get", (void **)&api.url_get},
	};

	/* The soname of libcurl 7 and 8, as Debian's libcurl4 package installs it. */
	load_error = moo__dl_load("libcurl.so.4", syms, MOO_ARRAY_SIZE(syms));
	if (!load_error) {
		moo__curl = api;
	}
}

int moo__curl_load(struct moo_error **err)
{
	pthread_once(&once, load);
	return load_error ? moo__dl_fail(err, "libcurl", load_error, "libcurl4") : 0;
}
