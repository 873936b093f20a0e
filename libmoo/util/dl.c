/* Loading a library on first use: dlopen once, then every symbol a table names. */
#include <dlfcn.h>
#include "../internal.h"

char *moo__dl_load(const char *soname, const struct moo__dl_sym *syms, size_t n)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
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
