/* Loading libgit2 on first use (see gitlib.h for why). */
#include <pthread.h>
#define MOO__GITLIB_NO_NAMES
#include "../gitlib.h"

struct moo__gitlib moo__gitlib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *load_error;

static void load(void)
{
	struct moo__gitlib api;
	static const char *const names[] = {
#define NAME(f) #f,
		MOO__GITLIB_FUNCS(NAME)
#undef NAME
	};
	struct moo__dl_sym syms[MOO_ARRAY_SIZE(names)];
	size_t i = 0;

#define SLOT(f) syms[i].name = names[i], syms[i].slot = (void **)&api.f, i++;
	MOO__GITLIB_FUNCS(SLOT)
#undef SLOT
	/* The soname Debian's libgit2-1.5 package installs. */
	load_error = moo__dl_load("libgit2.so.1.5", syms, i);
	if (!load_error) {
		moo__gitlib = api;
	}
}

int moo__gitlib_load(struct moo_error **err)
{
	pthread_once(&once, load);
	return load_error ? moo__dl_fail(err, "libgit2", load_error, "libgit2-1.5") : 0;
}
