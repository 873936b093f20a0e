/* Loading libarchive on first use (see archivelib.h for why). */
#include <pthread.h>
#define MOO__ARCHIVELIB_NO_NAMES
#include "../archivelib.h"

struct moo__archivelib moo__archivelib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *load_error;

static void load(void)
{
	struct moo__archivelib api;
	static const char *const names[] = {
#define NAME(f) #f,
		MOO__ARCHIVELIB_FUNCS(NAME)
#undef NAME
	};
	struct moo__dl_sym syms[MOO_ARRAY_SIZE(names)];
	size_t i = 0;

#define SLOT(f) syms[i].name = names[i], syms[i].slot = (void **)&api.f, i++;
	MOO__ARCHIVELIB_FUNCS(SLOT)
#undef SLOT
	/* The soname of libarchive 3, as Debian's libarchive13 package installs it. */
	load_error = moo__dl_load("libarchive.so.13", syms, i);
	if (!load_error) {
		moo__archivelib = api;
	}
}

int moo__archivelib_load(struct moo_error **err)
{
	pthread_once(&once, load);
	return load_error ? moo__dl_fail(err, "libarchive", load_error, "libarchive13") : 0;
}
