/* Loading libmicrohttpd on first use (see mhdlib.h for why). */
#include <pthread.h>
#define MOO__MHDLIB_NO_NAMES
#include "../mhdlib.h"

struct moo__mhdlib moo__mhdlib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *load_error;

static void load(void)
{
	struct moo__mhdlib api;
	static const char *const names[] = {
#define NAME(f) #f,
		MOO__MHDLIB_FUNCS(NAME)
#undef NAME
	};
	struct moo__dl_sym syms[MOO_ARRAY_SIZE(names)];
	size_t i = 0;

#define SLOT(f) syms[i].name = names[i], syms[i].slot = (void **)&api.f, i++;
	MOO__MHDLIB_FUNCS(SLOT)
#undef SLOT
	/* The soname Debian's libmicrohttpd12 package installs. */
	load_error = moo__dl_load("libmicrohttpd.so.12", syms, i);
	if (!load_error) {
		moo__mhdlib = api;
	}
}

int moo__mhdlib_load(struct moo_error **err)
{
	pthread_once(&once, load);
	return load_error ? moo__dl_fail(err, "libmicrohttpd", load_error, "libmicrohttpd12") : 0;
}
