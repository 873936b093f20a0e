/* Loading libcurl on first use (see curl.h for why). */
#include <dlfcn.h>
#include <pthread.h>
#include "../curl.h"

struct moo__curl_api moo__curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *load_error;

static void *sym(void *lib, const char *name)
{
	void *p = dlsym(lib, name);

	if (!p && !load_error) {
		load_error = moo__printf("libcurl has no '%s'", name);
	}
	return p;
}

static void load(void)
{
	/* The soname of libcurl 7 and 8, as Debian's libcurl4 package installs it. */
	void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	struct moo__curl_api api;

	if (!lib) {
		const char *why = dlerror();

		load_error = moo__strdup(why ? why : "libcurl.so.4 not found");
		return;
	}
	/* POSIX lets a data pointer from dlsym be converted to a function pointer. */
#define GET(field, name) *(void **)(&api.field) = sym(lib, name)
	GET(easy_init, "curl_easy_init");
	GET(easy_cleanup, "curl_easy_cleanup");
	GET(easy_reset, "curl_easy_reset");
	GET(easy_setopt, "curl_easy_setopt");
	GET(easy_getinfo, "curl_easy_getinfo");
	GET(easy_perform, "curl_easy_perform");
	GET(easy_strerror, "curl_easy_strerror");
	GET(slist_append, "curl_slist_append");
	GET(slist_free_all, "curl_slist_free_all");
	GET(easy_escape, "curl_easy_escape");
	GET(free, "curl_free");
	GET(url, "curl_url");
	GET(url_cleanup, "curl_url_cleanup");
	GET(url_set, "curl_url_set");
	GET(url_get, "curl_url_get");
#undef GET
	if (load_error) {
		dlclose(lib);
		return;
	}
	moo__curl = api;
}

int moo__curl_load(struct moo_error **err)
{
	struct moo_error *e;

	pthread_once(&once, load);
	if (!load_error) {
		return 0;
	}
	e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR, "cannot load libcurl: %s", load_error);
	moo__error_hint(e, "install libcurl (Debian: apt-get install libcurl4)");
	return MOO_EIO;
}
