/* Loading libssh on first use (see sshlib.h for why). */
#include <pthread.h>
#define MOO__SSHLIB_NO_NAMES
#include "../sshlib.h"

struct moo__sshlib moo__sshlib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *load_error;

static void load(void)
{
	struct moo__sshlib api;
	static const char *const names[] = {
#define NAME(f) #f,
		MOO__SSHLIB_FUNCS(NAME)
#undef NAME
	};
	struct moo__dl_sym syms[MOO_ARRAY_SIZE(names)];
	size_t i = 0;

#define SLOT(f) syms[i].name = names[i], syms[i].slot = (void **)&api.f, i++;
	MOO__SSHLIB_FUNCS(SLOT)
#undef SLOT
	/* The soname of libssh 0.9 to 0.11, as Debian's libssh-4 package installs it. */
	load_error = moo__dl_load("libssh.so.4", syms, i);
	if (!load_error) {
		moo__sshlib = api;
	}
}

int moo__sshlib_load(struct moo_error **err)
{
	pthread_once(&once, load);
	return load_error ? moo__dl_fail(err, "libssh", load_error, "libssh-4") : 0;
}
