/* Loading a library on first use: dlopen once, then every symbol a table names. */
#include <dlfcn.h>
#include "../internal.h"

char *moo__dl_load(const char *soname, const struct moo__dl_sym *syms, size_t n)
{
	void *lib = dlopen(
		soname,
		RTLD_LAZY | RTLD_LOCAL); /* binding all of ICU and libstdc++ at once cost ~10 ms */
	size_t i;

	if (!lib) {
		const char *why = dlerror();

		return moo__printf("%s", why ? why : soname);
	}
	for (i = 0; i < n; i++) {
		void *p = dlsym(lib, syms[i].name);

		if (!p) {
			dlclose(lib);
			return moo__printf("%s has no '%s'", soname, syms[i].name);
		}
		/* POSIX lets a data pointer from dlsym be stored in a function pointer. */
		*syms[i].slot = p;
	}
	return NULL;
}

int moo__dl_fail(struct moo_error **err, const char *lib, const char *why, const char *package)
{
	struct moo_error *e;

	e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR, "cannot load %s: %s", lib, why);
	moo__error_hint(e, "install %s (Debian: apt-get install %s)", lib, package);
	return MOO_EIO;
}
